"""The release gate's thresholds, read back from the Evaluator's eval_config:
a floor (a lower bound on the overall slice) on any metric, and the paired
no-regression rule's allowed drop and confidence."""

import dataclasses
import json
import math
from typing import Dict, Iterator, List, Optional

from google.protobuf import json_format

from imdb_tfx.core import intervals, names

ACCURACY = 'binary_accuracy'


def floor_key(metric: str) -> str:
    """A floor's name among `gate --json`'s thresholds."""
    return 'min_accuracy' if metric == ACCURACY else f'min_{metric}'


@dataclasses.dataclass(frozen=True)
class GateThresholds:
    floors: Dict[str, float] = dataclasses.field(default_factory=dict)  # {metric name: lower bound}
    max_accuracy_drop: Optional[float] = None  # None: no no-regression rule configured
    regression_confidence: Optional[float] = None

    def as_dict(self) -> Dict[str, float]:
        """As `gate --json` shows them: the floors, then the no-regression rule's settings."""
        named = {floor_key(metric): bound for metric, bound in self.floors.items()}
        if self.max_accuracy_drop is not None:
            named['max_accuracy_drop'] = self.max_accuracy_drop
        if self.regression_confidence is not None:
            named['regression_confidence'] = self.regression_confidence
        return named


def gate_thresholds(eval_config_json: str) -> GateThresholds:
    from tensorflow_model_analysis.proto import config_pb2

    config = json_format.Parse(eval_config_json, config_pb2.EvalConfig())
    floors: Dict[str, float] = {}
    max_accuracy_drop = regression_confidence = None
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            bounds = _lower_bounds(metric)
            if bounds:
                name = _metric_name(metric)
                floors[name] = max(*bounds, floors.get(name, -math.inf))  # the strictest bound decides
            if metric.class_name == names.PAIRED_ACCURACY_METRIC:
                regression_confidence = json.loads(metric.config or '{}').get('confidence', intervals.CONFIDENCE)
                max_accuracy_drop = _allowed_drop(metric)
    return GateThresholds(floors, max_accuracy_drop, regression_confidence)


def configured_thresholds(eval_config_json: str) -> Dict[str, float]:
    """The thresholds as `gate --json` shows them."""
    return gate_thresholds(eval_config_json).as_dict()


def _overall_thresholds(metric) -> Iterator:
    """The metric's thresholds that judge the overall slice, the gate's."""
    if metric.HasField('threshold'):  # no slicing spec: every slice, the overall one too
        yield metric.threshold
    for per_slice in metric.per_slice_thresholds:
        if any(spec.ByteSize() == 0 for spec in per_slice.slicing_specs):  # an empty spec is the overall slice
            yield per_slice.threshold


def _lower_bounds(metric) -> List[float]:
    return [
        threshold.value_threshold.lower_bound.value
        for threshold in _overall_thresholds(metric)
        if threshold.HasField('value_threshold') and threshold.value_threshold.HasField('lower_bound')
    ]


def _allowed_drop(paired_metric) -> Optional[float]:
    """The paired metric's change threshold is minus the accuracy drop allowed."""
    for threshold in _overall_thresholds(paired_metric):
        if threshold.HasField('change_threshold'):
            return round(-threshold.change_threshold.absolute.value, 6) + 0.0  # + 0.0: never -0.0
    return None


def _metric_name(metric) -> str:
    """The name TFMA gives the metric's values (AUC's are auc): TFMA's own
    mapping, which also honours a name set in the metric's config."""
    from tensorflow_model_analysis.metrics import metric_specs  # deferred: TensorFlow

    return metric_specs.metric_instance(metric).name
