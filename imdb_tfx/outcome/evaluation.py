"""What the Evaluator wrote, read back with TFMA: the overall slice's metrics
per model, the paired comparison with the serving model, and the thresholds
the candidate failed."""

import dataclasses
from typing import Dict, List, Optional

from google.protobuf import json_format

from imdb_tfx.core import names


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
    """TFMA's reasons for not blessing, one per failed threshold, each
    starting with the metric's name."""
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
