"""The verdict of a run, read from ML Metadata and the artifacts: the data
gate, eval metrics with their 95% intervals against the floor, the paired
comparison with the serving model, the serving canary, the blessing and the
push. Shared by `run`'s summary, `gate` (and its JSON) and the report."""

import dataclasses
import functools
import json
import os
from typing import Dict, List, Optional, Tuple

from google.protobuf import json_format

from imdb_tfx.core import intervals, names
from imdb_tfx.run_info import PipelineRun

# `imdb-tfx gate` exit codes.
EXIT_PUSHED = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2

# The rules of the release gate, as `gate --json` names them.
RULE_DATA_GATE = 'data_gate'
RULE_DRIFT_GATE = 'drift_gate'  # runs on spans only
RULE_FLOOR = 'accuracy_floor'
RULE_NO_REGRESSION = 'no_regression'
RULE_CANARY = 'serving_canary'


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The paired comparison with the serving model on the same eval reviews
    (modules/paired_accuracy.py): candidate minus serving accuracy."""

    difference: float
    lower: float
    upper: float
    p_value: float  # McNemar's exact test, two-sided
    candidate_only_correct: int
    serving_only_correct: int

    @classmethod
    def from_metrics(cls, diffs: Dict[str, float]) -> Optional['Comparison']:
        if names.ACCURACY_DIFFERENCE not in diffs:
            return None
        return cls(
            difference=diffs[names.ACCURACY_DIFFERENCE],
            lower=diffs[names.ACCURACY_DIFFERENCE_LOWER],
            upper=diffs[names.ACCURACY_DIFFERENCE_UPPER],
            p_value=diffs[names.MCNEMAR_P_VALUE],
            candidate_only_correct=int(diffs[names.CANDIDATE_ONLY_CORRECT]),
            serving_only_correct=int(diffs[names.SERVING_ONLY_CORRECT]),
        )


@dataclasses.dataclass(frozen=True)
class Outcome:
    run: PipelineRun
    metrics: Dict[str, float]  # candidate, overall slice
    baseline_metrics: Dict[str, float]  # the model serving before; empty on a first push
    class_counts: Optional[Tuple[int, int]]  # (positives, negatives) of the eval split
    comparison: Optional[Comparison]  # None on a first push
    thresholds: Dict[str, float]  # min_accuracy, max_accuracy_drop, regression_confidence as configured
    failed_thresholds: List[str]  # TFMA's reasons when not blessed
    blessed: Optional[bool]  # the Evaluator's verdict; None: it did not finish
    canary_passed: Optional[bool]  # None: the canary did not finish
    canary_problems: List[str]
    pushed_path: Optional[str]
    already_serving: bool  # the model was serving already: nothing copied
    baseline_problem: Optional[str] = None  # why the newest served version was not the baseline

    @property
    def reused(self) -> List[str]:
        """Components whose outputs came from an earlier run (ML Metadata's cache)."""
        return [n.node_id for n in self.run.nodes.values() if n.state == 'CACHED']

    @property
    def failed_node(self) -> Optional[str]:
        failed = self.run.failed_nodes
        return failed[0].node_id if failed else None

    @property
    def data_gate(self) -> str:
        """passed (now or in the run it was cached from), failed, or not run."""
        node = self.run.nodes.get(names.DATA_GATE)
        if node is None or node.state not in ('COMPLETE', 'CACHED', 'FAILED'):
            return 'not run'
        return 'failed' if node.state == 'FAILED' else 'passed'

    def data_gate_findings(self) -> List[str]:
        """Why the data gate failed, from the artifacts it judged."""
        if self.data_gate != 'failed':
            return []
        from imdb_tfx.components.data_gate import checks

        inputs = self.run.nodes[names.DATA_GATE].inputs
        return [
            str(f)
            for f in checks.findings(inputs['statistics'][0].uri, inputs['anomalies'][0].uri, inputs['schema'][0].uri)
        ]

    @functools.cached_property
    def drift(self) -> Optional[dict]:
        """The drift gate of a run on spans (None otherwise): its status, the
        span, the accepted span it was compared with, and every measure with
        its threshold (recomputed from its inputs when it stopped the run)."""
        node = self.run.nodes.get(names.DRIFT_GATE)
        if node is None:
            return None
        from imdb_tfx.components.drift_gate import component as drift_gate  # deferred: TensorFlow

        if node.state in ('COMPLETE', 'CACHED'):
            accepted = self.run.output(names.DRIFT_GATE, 'accepted')
            with open(os.path.join(accepted.uri, drift_gate.REPORT_FILE), encoding='utf-8') as f:
                report = json.load(f)
            return {'status': 'passed', **{k: report[k] for k in ('span', 'reference_span', 'measures')}}
        if node.state != 'FAILED' or 'examples' not in node.inputs:
            return {'status': 'not run', 'span': None, 'reference_span': None, 'measures': []}
        examples = node.inputs['examples'][0]
        reference = (node.inputs.get('reference') or [None])[0]
        compared, measures = drift_gate.findings(
            examples.uri,
            examples.properties.get(names.SPAN_PROPERTY),
            reference.uri if reference else None,
            reference.properties.get(names.SPAN_PROPERTY) if reference else None,
            node.inputs['baseline'][0].uri,
            json.loads(node.properties['thresholds']),
        )
        return {
            'status': 'failed',
            'span': examples.properties.get(names.SPAN_PROPERTY),
            'reference_span': compared[0] if compared else None,
            'measures': [dict(vars(m), drifted=m.drifted) for m in measures],
        }

    def drift_findings(self) -> List[str]:
        """The measures over their thresholds, each named with its distance."""
        drift = self.drift or {}
        return [_measure_line(m) for m in drift.get('measures', []) if m['drifted']]

    def drift_detail(self) -> str:
        drift = self.drift
        if drift['status'] == 'not run':
            return 'not run'
        if drift['reference_span'] is None:
            return f'span {drift["span"]}: the first accepted span, nothing to compare with'
        measures = drift['measures']
        if drift['status'] == 'failed':
            return f'span {drift["span"]} drifted from span {drift["reference_span"]}: ' + '; '.join(
                self.drift_findings()
            )
        return f'span {drift["span"]} vs span {drift["reference_span"]}: ' + ', '.join(
            f'{m["name"]} {m["distance"]:.4f} <= {m["threshold"]:g}' for m in measures
        )

    @property
    def example_count(self) -> int:
        return int(self.metrics.get('example_count', 0))

    def interval(self, metric: str) -> Optional[Tuple[float, float]]:
        """The 95% interval of binary_accuracy (exact binomial) or auc
        (Hanley-McNeil) on the eval split; None when not measured."""
        value = self.metrics.get(metric)
        if value is None:
            return None
        if metric == 'binary_accuracy':
            n = self.example_count
            return intervals.clopper_pearson(round(value * n), n)
        if metric == 'auc' and self.class_counts:
            return intervals.auc_interval(value, *self.class_counts)
        return None

    @property
    def floor_passed(self) -> Optional[bool]:
        accuracy = self.metrics.get('binary_accuracy')
        if accuracy is None or 'min_accuracy' not in self.thresholds:
            return None
        return accuracy >= self.thresholds['min_accuracy']

    @property
    def no_regression_passed(self) -> Optional[bool]:
        """None when nothing was serving (first push): nothing to compare."""
        if self.comparison is None:
            return None
        return self.comparison.upper >= -self.thresholds.get('max_accuracy_drop', 0.0)

    def rules(self) -> List[dict]:
        """Each check of the gate: its name, whether it passed (None: not
        judged) and what decided it."""
        rules = [
            {
                'rule': RULE_DATA_GATE,
                'passed': {'passed': True, 'failed': False}.get(self.data_gate),
                'detail': '; '.join(self.data_gate_findings()) or self.data_gate,
            }
        ]
        if self.drift is not None:
            rules.append(
                {
                    'rule': RULE_DRIFT_GATE,
                    'passed': {'passed': True, 'failed': False}.get(self.drift['status']),
                    'detail': self.drift_detail(),
                }
            )
        if self.metrics:
            rules.append({'rule': RULE_FLOOR, 'passed': self.floor_passed, 'detail': self._floor_detail()})
            rules.append(
                {'rule': RULE_NO_REGRESSION, 'passed': self.no_regression_passed, 'detail': self._regression_detail()}
            )
        if self.canary_passed is not None:
            rules.append(
                {
                    'rule': RULE_CANARY,
                    'passed': self.canary_passed,
                    'detail': 'passed' if self.canary_passed else '; '.join(self.canary_problems),
                }
            )
        return rules

    @property
    def rejected_by(self) -> List[str]:
        return [rule['rule'] for rule in self.rules() if rule['passed'] is False]

    def _floor_detail(self) -> str:
        low, high = self.interval('binary_accuracy')
        relation = '>=' if self.floor_passed else 'below'
        return (
            f'accuracy {_f(self.metrics["binary_accuracy"])} [{_f(low)}, {_f(high)}] {relation} the floor '
            f'{self.thresholds.get("min_accuracy")}'
        )

    def _regression_detail(self) -> str:
        c = self.comparison
        if c is None:
            return 'no model serving (first push): nothing to compare'
        confidence = self.thresholds.get('regression_confidence', intervals.CONFIDENCE)
        drop = self.thresholds.get('max_accuracy_drop', 0.0)
        worse = f'worse than the serving model by more than {drop:g}' if drop else 'worse than the serving model'
        verdict = (
            f'not {worse} with {confidence:g} confidence'
            if self.no_regression_passed
            else f'{worse} with {confidence:g} confidence'
        )
        return (
            f'{verdict}: paired difference {c.difference:+.4f} [{c.lower:+.4f}, {c.upper:+.4f}] on '
            f'{self.example_count} reviews ({c.candidate_only_correct} right by the candidate only, '
            f'{c.serving_only_correct} by the serving model only; McNemar exact p={c.p_value:.3g})'
        )

    @property
    def exit_code(self) -> int:
        if self.failed_node or self.blessed is None:
            return EXIT_FAILED
        return EXIT_PUSHED if self.pushed_path else EXIT_REJECTED

    @property
    def verdict(self) -> str:
        if self.failed_node == names.DATA_GATE:
            return f'FAILED at {names.DATA_GATE}:\n' + '\n'.join(f'  - {f}' for f in self.data_gate_findings())
        if self.failed_node == names.DRIFT_GATE and self.drift_findings():
            return (
                f'FAILED at {names.DRIFT_GATE}: span {self.drift["span"]} drifted from span '
                f'{self.drift["reference_span"]}, nothing trained or pushed:\n'
                + '\n'.join(f'  - {f}' for f in self.drift_findings())
            )
        if self.failed_node:
            return f"FAILED at {self.failed_node} (its error is in the run's log)"

        if self.blessed is None:
            return 'INCOMPLETE: the run did not reach the Evaluator'
        reasons = [f'{rule["rule"]}: {rule["detail"]}' for rule in self.rules() if rule['passed'] is False]
        if not self.blessed and not reasons:  # a threshold outside the gate's rules
            reasons.append('Evaluator: ' + ('; '.join(self.failed_thresholds) or 'not blessed'))
        if reasons:
            return 'REJECTED, nothing pushed: ' + ' | '.join(reasons)
        if self.already_serving:
            return f'Blessed; already serving as {self.pushed_path}'
        return f'Blessed and pushed: {self.pushed_path}'

    def _metric_json(self, name: str, threshold: Optional[float], difference: Optional[dict]) -> Optional[dict]:
        value = self.metrics.get(name)
        if value is None:
            return None
        low, high = self.interval(name) or (None, None)
        return {
            'value': value,
            'lower': low,
            'upper': high,
            'threshold': threshold,
            'serving': self.baseline_metrics.get(name),
            'difference': difference,
        }

    def to_dict(self) -> dict:
        """`imdb-tfx gate --json`: the shape README's "Release gating" documents."""
        c = self.comparison
        accuracy_difference = (
            None
            if c is None
            else {
                'value': c.difference,
                'lower': c.lower,
                'upper': c.upper,
                'p_value': c.p_value,
                'candidate_only_correct': c.candidate_only_correct,
                'serving_only_correct': c.serving_only_correct,
            }
        )
        auc_difference = None
        if c is not None and 'auc' in self.baseline_metrics and 'auc' in self.metrics:
            # No paired interval for AUC: the paired rule judges accuracy.
            auc_difference = {'value': self.metrics['auc'] - self.baseline_metrics['auc'], 'lower': None, 'upper': None}
        metrics = None
        if self.metrics:
            metrics = {
                'binary_accuracy': self._metric_json(
                    'binary_accuracy', self.thresholds.get('min_accuracy'), accuracy_difference
                ),
                'auc': self._metric_json('auc', None, auc_difference),
                # Reported, not gated: how far P(positive) is from the observed frequencies.
                names.EXPECTED_CALIBRATION_ERROR: self.metrics.get(names.EXPECTED_CALIBRATION_ERROR),
                'example_count': self.example_count,
                'confidence': intervals.CONFIDENCE,
            }
        return {
            'exit_code': self.exit_code,
            'verdict': self.verdict,
            'rejected_by': self.rejected_by,
            'run_id': self.run.run_id,
            'pushed': (
                {
                    'path': self.pushed_path,
                    'version': os.path.basename(self.pushed_path.rstrip('/')),
                    'already_serving': self.already_serving,
                }
                if self.pushed_path
                else None
            ),
            'metrics': metrics,
            'thresholds': self.thresholds,
            'rules': self.rules(),
            'blessed': self.blessed,
            'data_gate': {'status': self.data_gate, 'findings': self.data_gate_findings()},
            'drift_gate': self.drift,
            'canary': {'passed': self.canary_passed, 'problems': self.canary_problems},
            'baseline_problem': self.baseline_problem,
            'components': {
                n.node_id: {'state': n.state, 'seconds': round(n.seconds, 1)} for n in self.run.nodes.values()
            },
        }


def _f(value: Optional[float]) -> str:
    return 'nan' if value is None else f'{value:.4f}'


def _measure_line(measure: dict) -> str:
    values = ''
    if measure['newest'] is not None:
        values = f' ({measure["reference"]:.4g} -> {measure["newest"]:.4g})'
    return f'{measure["name"]}{values}: distance {measure["distance"]:.4f} over the threshold {measure["threshold"]:g}'


@dataclasses.dataclass(frozen=True)
class EvaluationMetrics:
    """The overall slice of a TFMA output."""

    by_model: Dict[str, Dict[str, float]]  # {model name: {metric: value}}; '' for a single model
    diffs: Dict[str, float]  # the candidate's diff keys, the paired metric's among them
    confusion: Dict[str, Dict[str, float]]  # {model name: tp, tn, fp, fn at 0.5}


def overall_metrics(evaluation_uri: str) -> EvaluationMetrics:
    import tensorflow_model_analysis as tfma  # deferred: heavy import

    by_model: Dict[str, Dict[str, float]] = {}
    diffs: Dict[str, float] = {}
    confusion: Dict[str, Dict[str, float]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        if metrics_for_slice.slice_key.single_slice_keys:
            continue
        for kv in metrics_for_slice.metric_keys_and_values:
            key, value = kv.key, kv.value
            if value.HasField('double_value'):
                if key.is_diff:
                    diffs[key.name] = value.double_value.value
                else:
                    by_model.setdefault(key.model_name, {})[key.name] = value.double_value.value
            elif value.HasField('confusion_matrix_at_thresholds') and not key.is_diff:
                m = value.confusion_matrix_at_thresholds.matrices[0]
                confusion[key.model_name] = {
                    'tp': m.true_positives,
                    'tn': m.true_negatives,
                    'fp': m.false_positives,
                    'fn': m.false_negatives,
                }
    return EvaluationMetrics(by_model, diffs, confusion)


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
    """The accuracy floor, the allowed drop and the regression confidence,
    from the Evaluator's eval_config."""
    import json

    from tensorflow_model_analysis.proto import config_pb2

    config = json_format.Parse(eval_config_json, config_pb2.EvalConfig())
    thresholds: Dict[str, float] = {}
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                threshold = per_slice.threshold
                if threshold.HasField('value_threshold'):
                    thresholds['min_accuracy'] = threshold.value_threshold.lower_bound.value
                if threshold.HasField('change_threshold'):
                    thresholds['max_accuracy_drop'] = round(-threshold.change_threshold.absolute.value, 6) + 0.0
            if metric.class_name == names.PAIRED_ACCURACY_METRIC:
                thresholds['regression_confidence'] = json.loads(metric.config or '{}').get(
                    'confidence', intervals.CONFIDENCE
                )
    return thresholds


def of_run(run: PipelineRun) -> Outcome:
    metrics: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    class_counts = None
    comparison = None
    failures: List[str] = []
    thresholds: Dict[str, float] = {}
    evaluation = run.output(names.EVALUATOR, 'evaluation')
    if evaluation is not None:
        measured = overall_metrics(evaluation.uri)
        candidate = 'candidate' if 'candidate' in measured.by_model else ''
        metrics = measured.by_model.get(candidate, {})
        baseline = measured.by_model.get('baseline', {})
        matrix = measured.confusion.get(candidate)
        if matrix:
            class_counts = (int(matrix['tp'] + matrix['fn']), int(matrix['tn'] + matrix['fp']))
        comparison = Comparison.from_metrics(measured.diffs)
        failures = failed_thresholds(evaluation.uri)
        thresholds = configured_thresholds(run.nodes[names.EVALUATOR].properties.get('eval_config', '{}'))
    blessing = run.output(names.EVALUATOR, 'blessing')
    canary = run.output(names.SERVING_CANARY, 'blessing')
    pushed = run.output(names.PUSHER, 'pushed_model')
    baseline_artifact = run.output(names.SERVING_BASELINE, 'baseline')
    is_pushed = pushed is not None and pushed.properties.get(names.PUSHED) == 1
    return Outcome(
        run=run,
        metrics=metrics,
        baseline_metrics=baseline,
        class_counts=class_counts,
        comparison=comparison,
        thresholds=thresholds,
        failed_thresholds=failures,
        blessed=None if blessing is None else blessing.properties.get(names.BLESSED) == 1,
        canary_passed=None if canary is None else canary.properties.get(names.BLESSED) == 1,
        canary_problems=[]
        if canary is None
        else [p for p in str(canary.properties.get(names.PROBLEMS, '')).split('; ') if p],
        pushed_path=pushed.properties.get(names.PUSHED_DESTINATION) if is_pushed else None,
        already_serving=is_pushed and pushed.properties.get(names.ALREADY_SERVING) == 1,
        baseline_problem=baseline_artifact.properties.get(names.PROBLEMS) if baseline_artifact else None,
    )


def summary(outcome: Outcome) -> str:
    """A few lines for the end of `imdb-tfx run` and for `imdb-tfx gate`."""
    lines = [f'Run {outcome.run.run_id}']
    width = max((len(node_id) for node_id in outcome.run.nodes), default=0)
    for node in outcome.run.nodes.values():
        lines.append(f'  {node.node_id:<{width}}  {node.state:<9} {node.seconds:7.1f} s')
    if outcome.reused:
        lines.append(f'Reused from earlier runs (ML Metadata cache): {", ".join(outcome.reused)}')
    lines.append(f'Data gate: {outcome.data_gate}')
    if outcome.drift is not None and outcome.drift['status'] != 'failed':
        lines.append(f'Drift gate: {outcome.drift["status"]}: {outcome.drift_detail()}')
    if outcome.baseline_problem:
        lines.append(f'Serving directory: {outcome.baseline_problem}; not used as the baseline')
    if outcome.metrics:
        m = outcome.metrics
        accuracy, auc = outcome.interval('binary_accuracy'), outcome.interval('auc')
        line = f'Eval: accuracy {_f(m.get("binary_accuracy"))} [{_f(accuracy[0])}, {_f(accuracy[1])}]'
        if 'auc' in m:
            line += f', AUC {_f(m["auc"])}' + (f' [{_f(auc[0])}, {_f(auc[1])}]' if auc else '')
        lines.append(f'{line} on {outcome.example_count} reviews (95% intervals)')
        if names.EXPECTED_CALIBRATION_ERROR in m:
            lines.append(f'Calibration: expected calibration error {_f(m[names.EXPECTED_CALIBRATION_ERROR])} (20 bins)')
        lines.append(
            'Serving model: '
            + (
                f'accuracy {_f(outcome.baseline_metrics.get("binary_accuracy"))} on the same reviews'
                if outcome.baseline_metrics
                else 'none (first push)'
            )
        )
        for rule in outcome.rules():
            if rule['rule'] in (RULE_FLOOR, RULE_NO_REGRESSION):
                state = {True: 'passed', False: 'FAILED', None: 'not judged'}[rule['passed']]
                lines.append(f'Gate {rule["rule"]}: {state}: {rule["detail"]}')
    if outcome.canary_passed is not None:
        lines.append(
            'Serving canary: '
            + ('passed' if outcome.canary_passed else 'FAILED: ' + '; '.join(outcome.canary_problems))
        )
    lines.append(outcome.verdict)
    return '\n'.join(lines)
