"""A TFMA metric: the expected calibration error of P(positive).

The predictions fall into `num_buckets` equal-width bins of [0, 1]; in each,
the mean prediction is compared with the fraction of positive labels, and the
gaps are averaged, weighted by the bins' example counts:
ECE = sum over bins of |sum of predictions - sum of labels| / examples.
It reads the same calibration histogram as TFMA's CalibrationPlot (one pass
over the data serves both), rebinned to this metric's bins."""

from typing import Any, Dict, Optional

from tensorflow_model_analysis.metrics import calibration_histogram, metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from imdb_tfx.core import names

NAME = names.EXPECTED_CALIBRATION_ERROR
DEFAULT_BUCKETS = 20


def expected_calibration_error(histogram) -> float:
    """From calibration_histogram buckets (weighted examples, predictions, labels)."""
    examples = sum(b.weighted_examples for b in histogram)
    if not examples:
        return float('nan')
    return sum(abs(b.weighted_predictions - b.weighted_labels) for b in histogram) / examples


def _computations(
    num_buckets: int = DEFAULT_BUCKETS,
    name: str = NAME,
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_name: str = '',
    output_name: str = '',
    sub_key: Optional[metric_types.SubKey] = None,
    aggregation_type: Optional[metric_types.AggregationType] = None,
    class_weights: Optional[Dict[int, float]] = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, sub_key=sub_key, example_weighted=example_weighted
    )
    computations = calibration_histogram.calibration_histogram(
        eval_config=eval_config,
        model_name=model_name,
        output_name=output_name,
        sub_key=sub_key,
        left=0.0,
        right=1.0,
        aggregation_type=aggregation_type,
        class_weights=class_weights,
        example_weighted=example_weighted,
    )
    histogram_key = computations[-1].keys[-1]
    # -inf first: rebin's first bucket catches predictions below 0 (none from a sigmoid).
    thresholds = [float('-inf')] + [i / num_buckets for i in range(num_buckets + 1)]

    def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, float]:
        histogram = calibration_histogram.rebin(thresholds, metrics[histogram_key], left=0.0, right=1.0)
        return {key: expected_calibration_error(histogram)}

    computations.append(metric_types.DerivedMetricComputation(keys=[key], result=result))
    return computations


class ExpectedCalibrationError(metric_types.Metric):
    """MetricConfig config: {"num_buckets": 20}."""

    def __init__(self, num_buckets: int = DEFAULT_BUCKETS, name: str = NAME):
        if num_buckets < 1:
            raise ValueError(f'num_buckets must be >= 1, got {num_buckets}')
        super().__init__(metric_util.merge_per_key_computations(_computations), num_buckets=num_buckets, name=name)

    @property
    def compute_confidence_interval(self) -> bool:
        return False
