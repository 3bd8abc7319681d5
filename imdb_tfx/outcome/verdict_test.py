"""The gate's verdict from what a run measured: each rule, what rejected the
model, the exit code, and how `run`'s summary and `gate --json` tell it."""

from imdb_tfx import outcome
from imdb_tfx.core import intervals, names
from imdb_tfx.outcome.details import decimal
from imdb_tfx.outcome.gate_json import gate_json
from imdb_tfx.outcome.thresholds import GateThresholds
from imdb_tfx.run_info import NodeRun, PipelineRun

POSITIVES, NEGATIVES = 120, 130


def _evaluated(metrics: dict, floors: dict, blessed: bool, failed_thresholds=()) -> outcome.Outcome:
    """A first push's Outcome (nothing serving), its Evaluator done."""
    evaluator = NodeRun(
        node_id=names.EVALUATOR, state='COMPLETE', started=1.0, seconds=2.0, inputs={}, outputs={}, properties={}
    )
    return outcome.Outcome(
        run=PipelineRun(run_id='run-1', started=1.0, nodes={names.EVALUATOR: evaluator}),
        metrics={'example_count': POSITIVES + NEGATIVES, **metrics},
        baseline_metrics={},
        class_counts=(POSITIVES, NEGATIVES),
        comparison=None,
        gate_thresholds=GateThresholds(floors=floors, max_accuracy_drop=0.0, regression_confidence=0.95),
        failed_thresholds=list(failed_thresholds),
        blessed=blessed,
        canary_passed=None,
        canary_problems=[],
        pushed_path=None,
        already_serving=False,
    )


def test_a_model_below_its_auc_floor_is_rejected_by_that_floor():
    result = _evaluated(
        {'binary_accuracy': 0.8, 'auc': 0.9},
        {'binary_accuracy': 0.6, 'auc': 0.95},
        blessed=False,
        failed_thresholds=["auc value 0.9000 fails {'valueThreshold': {'lowerBound': 0.95}}"],
    )

    low, high = intervals.auc_interval(0.9, POSITIVES, NEGATIVES)
    auc_detail = f'auc 0.9000 [{decimal(low)}, {decimal(high)}] below the floor 0.95'
    assert [(r['rule'], r['passed']) for r in result.rules()] == [
        ('data_gate', None), ('accuracy_floor', True), ('auc_floor', False), ('no_regression', None),
    ]  # fmt: skip
    assert result.rejected_by == ['auc_floor'] and result.exit_code == outcome.EXIT_REJECTED
    assert result.verdict == f'REJECTED, nothing pushed: auc_floor: {auc_detail}'
    # The accuracy floor keeps its own wording beside it.
    low, high = intervals.clopper_pearson(200, 250)
    accuracy_detail = f'accuracy 0.8000 [{decimal(low)}, {decimal(high)}] >= the floor 0.6'
    assert f'Gate accuracy_floor: passed: {accuracy_detail}' in outcome.summary(result)
    assert f'Gate auc_floor: FAILED: {auc_detail}' in outcome.summary(result)
    gate = gate_json(result)
    assert gate['thresholds'] == {
        'min_accuracy': 0.6, 'min_auc': 0.95, 'max_accuracy_drop': 0.0, 'regression_confidence': 0.95,
    }  # fmt: skip
    assert gate['metrics']['auc']['threshold'] == 0.95 and gate['metrics']['binary_accuracy']['threshold'] == 0.6


def test_a_floor_on_a_metric_not_measured_judges_nothing():
    result = _evaluated({'binary_accuracy': 0.8}, {'binary_accuracy': 0.6, 'precision': 0.7}, blessed=True)
    assert {'rule': 'precision_floor', 'passed': None, 'detail': 'precision not measured'} in result.rules()
    assert result.rejected_by == []


def test_not_blessed_for_a_threshold_outside_the_rules_says_the_evaluators_reason():
    reason = "auc change vs serving model -0.0500 fails {'changeThreshold': {'absolute': -0.01}}"
    result = _evaluated({'binary_accuracy': 0.8}, {'binary_accuracy': 0.6}, blessed=False, failed_thresholds=[reason])
    assert result.rejected_by == [] and result.exit_code == outcome.EXIT_REJECTED
    assert result.verdict == f'REJECTED, nothing pushed: Evaluator: {reason}'
