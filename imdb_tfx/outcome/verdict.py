"""The release gate's verdict on a run: each rule (the data gate, the drift
gate, the metric floors, no regression against the serving model, the
serving canary), what rejected the model, the exit code and the one-line
verdict."""

import dataclasses
import functools
from typing import Dict, List, Optional, Tuple

from imdb_tfx.core import intervals, names
from imdb_tfx.outcome import details, gates
from imdb_tfx.outcome.evaluation import Comparison
from imdb_tfx.outcome.thresholds import ACCURACY, GateThresholds
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


def floor_rule(metric: str) -> str:
    """The rule that holds the metric to its floor: accuracy_floor, auc_floor, ..."""
    return RULE_FLOOR if metric == ACCURACY else f'{metric}_floor'


@dataclasses.dataclass(frozen=True)
class Outcome:
    run: PipelineRun
    metrics: Dict[str, float]  # candidate, overall slice
    baseline_metrics: Dict[str, float]  # the model serving before; empty on a first push
    class_counts: Optional[Tuple[int, int]]  # (positives, negatives) of the eval split
    comparison: Optional[Comparison]  # None on a first push
    gate_thresholds: GateThresholds  # as the Evaluator was configured
    failed_thresholds: List[str]  # TFMA's reasons when not blessed
    blessed: Optional[bool]  # the Evaluator's verdict; None: it did not finish
    canary_passed: Optional[bool]  # None: the canary did not finish
    canary_problems: List[str]
    pushed_path: Optional[str]
    already_serving: bool  # the model was serving already: nothing copied
    baseline_problem: Optional[str] = None  # why the newest served version was not the baseline

    @property
    def thresholds(self) -> Dict[str, float]:
        """min_accuracy (and min_<metric> for other floors), max_accuracy_drop,
        regression_confidence, as `gate --json` names them."""
        return self.gate_thresholds.as_dict()

    @property
    def floors(self) -> Dict[str, float]:
        """{metric: lower bound on the overall slice}"""
        return self.gate_thresholds.floors

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
        return gates.data_gate_status(self.run)

    def data_gate_findings(self) -> List[str]:
        return gates.data_gate_findings(self.run)

    @functools.cached_property
    def drift(self) -> Optional[dict]:
        """The drift gate of a run on spans (None otherwise): gates.drift_gate."""
        return gates.drift_gate(self.run)

    def drift_findings(self) -> List[str]:
        return gates.drift_findings(self.drift)

    def drift_detail(self) -> str:
        return gates.drift_detail(self.drift)

    @property
    def example_count(self) -> int:
        return int(self.metrics.get('example_count', 0))

    def interval(self, metric: str) -> Optional[Tuple[float, float]]:
        """The 95% interval of binary_accuracy (exact binomial) or auc
        (Hanley-McNeil) on the eval split; None when not measured."""
        value = self.metrics.get(metric)
        if value is None:
            return None
        if metric == ACCURACY:
            n = self.example_count
            return intervals.clopper_pearson(round(value * n), n)
        if metric == 'auc' and self.class_counts:
            return intervals.auc_interval(value, *self.class_counts)
        return None

    def passes_floor(self, metric: str) -> Optional[bool]:
        """None when the metric was not measured or has no floor."""
        value, bound = self.metrics.get(metric), self.floors.get(metric)
        if value is None or bound is None:
            return None
        return value >= bound

    @property
    def floor_passed(self) -> Optional[bool]:
        return self.passes_floor(ACCURACY)

    @property
    def no_regression_passed(self) -> Optional[bool]:
        """None when nothing was serving (first push): nothing to compare."""
        if self.comparison is None:
            return None
        return self.comparison.upper >= -self._max_accuracy_drop

    @property
    def _max_accuracy_drop(self) -> float:
        drop = self.gate_thresholds.max_accuracy_drop
        return 0.0 if drop is None else drop

    def metric_rules(self) -> List[dict]:
        """The rules the Evaluator's metrics decide: accuracy's floor (judged
        or not), any other metric's, and no regression; none before the
        Evaluator measured anything."""
        if not self.metrics:
            return []
        floored = [ACCURACY, *(metric for metric in self.floors if metric != ACCURACY)]
        return [*(self._floor_rule(metric) for metric in floored), self._no_regression_rule()]

    def _floor_rule(self, metric: str) -> dict:
        passed = self.passes_floor(metric)
        return {
            'rule': floor_rule(metric),
            'passed': passed,
            'detail': details.floor_detail(
                metric, self.metrics.get(metric), self.interval(metric), self.floors.get(metric), passed
            ),
        }

    def _no_regression_rule(self) -> dict:
        confidence = self.gate_thresholds.regression_confidence
        detail = details.no_regression_detail(
            self.comparison,
            self.no_regression_passed,
            self._max_accuracy_drop,
            intervals.CONFIDENCE if confidence is None else confidence,
            self.example_count,
        )
        return {'rule': RULE_NO_REGRESSION, 'passed': self.no_regression_passed, 'detail': detail}

    def rules(self) -> List[dict]:
        """Each check of the gate: its name, whether it passed (None: not
        judged) and what decided it."""
        judged = {'passed': True, 'failed': False}
        data_detail = '; '.join(self.data_gate_findings()) or self.data_gate
        rules = [{'rule': RULE_DATA_GATE, 'passed': judged.get(self.data_gate), 'detail': data_detail}]
        if self.drift is not None:
            drift = {'rule': RULE_DRIFT_GATE, 'passed': judged.get(self.drift['status']), 'detail': self.drift_detail()}
            rules.append(drift)
        rules += self.metric_rules()
        if self.canary_passed is not None:
            canary_detail = 'passed' if self.canary_passed else '; '.join(self.canary_problems)
            rules.append({'rule': RULE_CANARY, 'passed': self.canary_passed, 'detail': canary_detail})
        return rules

    @property
    def rejected_by(self) -> List[str]:
        return [rule['rule'] for rule in self.rules() if rule['passed'] is False]

    @property
    def exit_code(self) -> int:
        if self.failed_node or self.blessed is None:
            return EXIT_FAILED
        return EXIT_PUSHED if self.pushed_path else EXIT_REJECTED

    @property
    def verdict(self) -> str:
        if self.failed_node:
            return self._failure()
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

    def _failure(self) -> str:
        """Where the run stopped and, for the gates before training, why."""
        if self.failed_node == names.DATA_GATE:
            return f'FAILED at {names.DATA_GATE}:\n' + '\n'.join(f'  - {f}' for f in self.data_gate_findings())
        if self.failed_node == names.DRIFT_GATE and self.drift_findings():
            return (
                f'FAILED at {names.DRIFT_GATE}: span {self.drift["span"]} drifted from span '
                f'{self.drift["reference_span"]}, nothing trained or pushed:\n'
                + '\n'.join(f'  - {f}' for f in self.drift_findings())
            )
        return f"FAILED at {self.failed_node} (its error is in the run's log)"
