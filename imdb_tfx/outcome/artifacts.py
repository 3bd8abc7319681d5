"""A run's Outcome, read from the artifacts its components recorded in ML
Metadata: the Evaluator's metrics and blessing, the canary's, the pusher's."""

from typing import Dict, Optional, Tuple

from imdb_tfx.core import names
from imdb_tfx.outcome import evaluation, thresholds
from imdb_tfx.outcome.verdict import Outcome
from imdb_tfx.run_info import PipelineRun


def of_run(run: PipelineRun) -> Outcome:
    blessing = run.output(names.EVALUATOR, 'blessing')
    canary = run.output(names.SERVING_CANARY, 'blessing')
    pushed = run.output(names.PUSHER, 'pushed_model')
    baseline_artifact = run.output(names.SERVING_BASELINE, 'baseline')
    is_pushed = pushed is not None and pushed.properties.get(names.PUSHED) == 1
    return Outcome(
        run=run,
        **_evaluated(run),
        blessed=None if blessing is None else blessing.properties.get(names.BLESSED) == 1,
        canary_passed=None if canary is None else canary.properties.get(names.BLESSED) == 1,
        canary_problems=[]
        if canary is None
        else [p for p in str(canary.properties.get(names.PROBLEMS, '')).split('; ') if p],
        pushed_path=pushed.properties.get(names.PUSHED_DESTINATION) if is_pushed else None,
        already_serving=is_pushed and pushed.properties.get(names.ALREADY_SERVING) == 1,
        baseline_problem=baseline_artifact.properties.get(names.PROBLEMS) if baseline_artifact else None,
    )


def _evaluated(run: PipelineRun) -> dict:
    """The Outcome's fields the Evaluator's output holds: empty when the run
    did not reach it."""
    evaluated = run.output(names.EVALUATOR, 'evaluation')
    if evaluated is None:
        return dict(
            metrics={},
            baseline_metrics={},
            class_counts=None,
            comparison=None,
            gate_thresholds=thresholds.GateThresholds(),
            failed_thresholds=[],
        )
    measured = evaluation.overall_metrics(evaluated.uri)
    candidate = 'candidate' if 'candidate' in measured.by_model else ''
    return dict(
        metrics=measured.by_model.get(candidate, {}),
        baseline_metrics=measured.by_model.get('baseline', {}),
        class_counts=_class_counts(measured.confusion.get(candidate)),
        comparison=evaluation.Comparison.from_metrics(measured.diffs),
        gate_thresholds=thresholds.gate_thresholds(run.nodes[names.EVALUATOR].properties.get('eval_config', '{}')),
        failed_thresholds=evaluation.failed_thresholds(evaluated.uri),
    )


def _class_counts(matrix: Optional[Dict[str, float]]) -> Optional[Tuple[int, int]]:
    """(positives, negatives) of the eval split, from the confusion matrix."""
    if not matrix:
        return None
    return int(matrix['tp'] + matrix['fn']), int(matrix['tn'] + matrix['fp'])
