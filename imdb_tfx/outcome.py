"""The verdict of a run: eval metrics (candidate and baseline), whether the
model was blessed, and where it was pushed. Shared by `run`'s summary and the
release-gate and report commands."""

import dataclasses
from typing import Dict, List, Optional

from google.protobuf import json_format

from imdb_tfx.run_info import PipelineRun

EVALUATOR = 'Evaluator'
PUSHER = 'Pusher'


@dataclasses.dataclass(frozen=True)
class Outcome:
    run: PipelineRun
    metrics: Dict[str, float]           # candidate, overall slice
    baseline_metrics: Dict[str, float]  # empty when there was no baseline
    failed_thresholds: List[str]        # TFMA's reasons when not blessed
    blessed: Optional[bool]             # None: the Evaluator did not finish
    pushed_path: Optional[str]

    @property
    def failed_node(self) -> Optional[str]:
        failed = self.run.failed_nodes
        return failed[0].node_id if failed else None


def overall_metrics(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
    """{model name: {metric: value}} of the overall slice of a TFMA output.
    A single-model evaluation has the model name ''."""
    import tensorflow_model_analysis as tfma  # deferred: heavy import

    by_model: Dict[str, Dict[str, float]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        if metrics_for_slice.slice_key.single_slice_keys:
            continue
        for kv in metrics_for_slice.metric_keys_and_values:
            if kv.key.is_diff:
                continue
            if kv.value.HasField('double_value'):
                by_model.setdefault(kv.key.model_name, {})[kv.key.name] = kv.value.double_value.value
    return by_model


def failed_thresholds(evaluation_uri: str) -> List[str]:
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(evaluation_uri)
    reasons = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            value = failure.metric_value.double_value.value
            kind = 'change vs serving model' if failure.metric_key.is_diff else 'value'
            threshold = json_format.MessageToDict(failure.metric_threshold)
            reasons.append(f'{failure.metric_key.name} {kind} {value:.4f} fails {threshold}')
    return reasons


def of_run(run: PipelineRun) -> Outcome:
    metrics: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    failures: List[str] = []
    blessed = None
    evaluation = run.output(EVALUATOR, 'evaluation')
    if evaluation is not None:
        by_model = overall_metrics(evaluation.uri)
        metrics = by_model.get('candidate', by_model.get('', {}))
        baseline = by_model.get('baseline', {})
        failures = failed_thresholds(evaluation.uri)
    blessing = run.output(EVALUATOR, 'blessing')
    if blessing is not None and 'blessed' in blessing.properties:
        blessed = blessing.properties['blessed'] == 1
    pushed = run.output(PUSHER, 'pushed_model')
    pushed_path = None
    if pushed is not None and pushed.properties.get('pushed') == 1:
        pushed_path = pushed.properties.get('pushed_destination')
    return Outcome(run=run, metrics=metrics, baseline_metrics=baseline,
                   failed_thresholds=failures, blessed=blessed, pushed_path=pushed_path)


def summary(outcome: Outcome) -> str:
    """A few lines for the end of `imdb-tfx run`."""
    lines = [f'Run {outcome.run.run_id}']
    for node in outcome.run.nodes.values():
        lines.append(f'  {node.node_id:<22} {node.state:<9} {node.seconds:7.1f} s')
    if outcome.metrics:
        m = outcome.metrics
        line = (f'Eval: accuracy {m.get("binary_accuracy", float("nan")):.4f}, '
                f'AUC {m.get("auc", float("nan")):.4f} on {int(m.get("example_count", 0))} reviews')
        if outcome.baseline_metrics:
            line += f' (serving model: accuracy {outcome.baseline_metrics.get("binary_accuracy", float("nan")):.4f})'
        lines.append(line)
    if outcome.failed_node:
        lines.append(f'FAILED at {outcome.failed_node}')
        error = outcome.run.nodes[outcome.failed_node].error
        if error:
            lines.append(error)
    elif outcome.blessed is False:
        lines.append('NOT blessed: ' + ('; '.join(outcome.failed_thresholds) or 'see the Evaluator output'))
    elif outcome.blessed:
        lines.append('Blessed.')
    lines.append(f'Pushed: {outcome.pushed_path}' if outcome.pushed_path else 'Pushed: nothing')
    return '\n'.join(lines)
