"""The verdict of a run, read from ML Metadata and the artifacts: the data
gate, eval metrics against thresholds and the serving model, the serving
canary, the blessing and the push. Shared by `run`'s summary, `gate` and the
report."""

import dataclasses
from typing import Dict, List, Optional

from google.protobuf import json_format

from imdb_tfx.run_info import PipelineRun

DATA_GATE = 'DataGate'
EVALUATOR = 'Evaluator'
CANARY = 'ServingCanary'
PUSHER = 'Pusher'

# `imdb-tfx gate` exit codes.
EXIT_PUSHED = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2


@dataclasses.dataclass(frozen=True)
class Outcome:
    run: PipelineRun
    metrics: Dict[str, float]  # candidate, overall slice
    baseline_metrics: Dict[str, float]  # the model serving before; empty on a first push
    thresholds: Dict[str, float]  # min_accuracy, max_accuracy_drop as configured
    failed_thresholds: List[str]  # TFMA's reasons when not blessed
    blessed: Optional[bool]  # the Evaluator's verdict; None: it did not finish
    canary_passed: Optional[bool]  # None: the canary did not finish
    canary_problems: List[str]
    pushed_path: Optional[str]
    already_serving: bool  # the model was serving already: nothing copied

    @property
    def failed_node(self) -> Optional[str]:
        failed = self.run.failed_nodes
        return failed[0].node_id if failed else None

    @property
    def data_gate(self) -> str:
        """passed (now or in the run it was cached from), failed, or not run."""
        node = self.run.nodes.get(DATA_GATE)
        if node is None or node.state not in ('COMPLETE', 'CACHED', 'FAILED'):
            return 'not run'
        return 'failed' if node.state == 'FAILED' else 'passed'

    def data_gate_findings(self) -> List[str]:
        """Why the data gate failed, from the artifacts it judged."""
        from components.data_gate import executor

        inputs = self.run.nodes[DATA_GATE].inputs
        return [
            str(f)
            for f in executor.findings(inputs['statistics'][0].uri, inputs['anomalies'][0].uri, inputs['schema'][0].uri)
        ]

    @property
    def exit_code(self) -> int:
        if self.failed_node or self.blessed is None:
            return EXIT_FAILED
        return EXIT_PUSHED if self.pushed_path else EXIT_REJECTED

    @property
    def verdict(self) -> str:
        if self.failed_node == DATA_GATE:
            return f'FAILED at {DATA_GATE}:\n' + '\n'.join(f'  - {f}' for f in self.data_gate_findings())
        if self.failed_node:
            return f"FAILED at {self.failed_node} (its error is in the run's log)"

        if self.blessed is None:
            return 'INCOMPLETE: the run did not reach the Evaluator'
        reasons = []
        if not self.blessed:
            reasons.append('Evaluator: ' + ('; '.join(self.failed_thresholds) or 'not blessed'))
        if self.canary_passed is False:
            reasons.append('ServingCanary: ' + '; '.join(self.canary_problems))
        if reasons:
            return 'REJECTED, nothing pushed: ' + ' | '.join(reasons)
        if self.already_serving:
            return f'Blessed; already serving as {self.pushed_path}'
        return f'Blessed and pushed: {self.pushed_path}'

    def to_dict(self) -> dict:
        return {
            'run_id': self.run.run_id,
            'exit_code': self.exit_code,
            'verdict': self.verdict,
            'components': {
                n.node_id: {'state': n.state, 'seconds': round(n.seconds, 1)} for n in self.run.nodes.values()
            },
            'data_gate': self.data_gate,
            'metrics': self.metrics,
            'baseline_metrics': self.baseline_metrics,
            'thresholds': self.thresholds,
            'failed_thresholds': self.failed_thresholds,
            'blessed': self.blessed,
            'canary': {'passed': self.canary_passed, 'problems': self.canary_problems},
            'pushed': {'path': self.pushed_path, 'already_serving': self.already_serving},
        }


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


def configured_thresholds(eval_config_json: str) -> Dict[str, float]:
    """The accuracy floor and allowed drop, from the Evaluator's eval_config."""
    from tensorflow_model_analysis.proto import config_pb2

    config = json_format.Parse(eval_config_json, config_pb2.EvalConfig())
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                threshold = per_slice.threshold
                return {
                    'min_accuracy': threshold.value_threshold.lower_bound.value,
                    'max_accuracy_drop': round(-threshold.change_threshold.absolute.value, 6),
                }
    return {}


def of_run(run: PipelineRun) -> Outcome:
    metrics: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    failures: List[str] = []
    thresholds: Dict[str, float] = {}
    evaluation = run.output(EVALUATOR, 'evaluation')
    if evaluation is not None:
        by_model = overall_metrics(evaluation.uri)
        metrics = by_model.get('candidate', by_model.get('', {}))
        baseline = by_model.get('baseline', {})
        failures = failed_thresholds(evaluation.uri)
        thresholds = configured_thresholds(run.nodes[EVALUATOR].properties.get('eval_config', '{}'))
    blessing = run.output(EVALUATOR, 'blessing')
    canary = run.output(CANARY, 'blessing')
    pushed = run.output(PUSHER, 'pushed_model')
    is_pushed = pushed is not None and pushed.properties.get('pushed') == 1
    return Outcome(
        run=run,
        metrics=metrics,
        baseline_metrics=baseline,
        thresholds=thresholds,
        failed_thresholds=failures,
        blessed=None if blessing is None else blessing.properties.get('blessed') == 1,
        canary_passed=None if canary is None else canary.properties.get('blessed') == 1,
        canary_problems=[]
        if canary is None
        else [p for p in str(canary.properties.get('problems', '')).split('; ') if p],
        pushed_path=pushed.properties.get('pushed_destination') if is_pushed else None,
        already_serving=is_pushed and pushed.properties.get('already_serving') == 1,
    )


def _accuracy(metrics: Dict[str, float]) -> str:
    return f'{metrics.get("binary_accuracy", float("nan")):.4f}'


def summary(outcome: Outcome) -> str:
    """A few lines for the end of `imdb-tfx run` and for `imdb-tfx gate`."""
    lines = [f'Run {outcome.run.run_id}']
    width = max((len(node_id) for node_id in outcome.run.nodes), default=0)
    for node in outcome.run.nodes.values():
        lines.append(f'  {node.node_id:<{width}}  {node.state:<9} {node.seconds:7.1f} s')
    lines.append(f'Data gate: {outcome.data_gate}')
    if outcome.metrics:
        m = outcome.metrics
        line = (
            f'Eval: accuracy {_accuracy(m)}, AUC {m.get("auc", float("nan")):.4f} '
            f'on {int(m.get("example_count", 0))} reviews'
        )
        if outcome.thresholds:
            line += (
                f' (floor {outcome.thresholds["min_accuracy"]}, allowed drop {outcome.thresholds["max_accuracy_drop"]})'
            )
        lines.append(line)
        lines.append(
            'Serving model: '
            + (f'accuracy {_accuracy(outcome.baseline_metrics)}' if outcome.baseline_metrics else 'none (first push)')
        )
    if outcome.canary_passed is not None:
        lines.append(
            'Serving canary: '
            + ('passed' if outcome.canary_passed else 'FAILED: ' + '; '.join(outcome.canary_problems))
        )
    lines.append(outcome.verdict)
    return '\n'.join(lines)
