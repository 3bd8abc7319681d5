"""The release gate as TFMA's EvalConfig: the metrics the Evaluator computes
and the thresholds its blessing needs (pipeline/config.py, GateConfig)."""

import json
from typing import List

import tensorflow_model_analysis as tfma

from imdb_tfx.core import names
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules import calibration_error, paired_accuracy
from imdb_tfx.pipeline.config import GateConfig

# The gate judges the overall slice; the rating slices are for reading.
OVERALL = [tfma.SlicingSpec()]


def _reported_metrics() -> List[tfma.MetricConfig]:
    """For the run report: beside the usual ones, the confusion matrix at the
    accuracy's 0.5 threshold, and predictions per true class in 20 bins."""
    return [
        tfma.MetricConfig(class_name='AUC'),
        tfma.MetricConfig(class_name='Precision'),
        tfma.MetricConfig(class_name='Recall'),
        tfma.MetricConfig(class_name='ConfusionMatrixAtThresholds', config='{"thresholds": [0.5]}'),
        tfma.MetricConfig(class_name='CalibrationPlot', config='{"num_buckets": 20}'),
        tfma.MetricConfig(
            class_name=calibration_error.ExpectedCalibrationError.__name__,
            module=calibration_error.__name__,
            config='{"num_buckets": 20}',
        ),
    ]


def _floor(value: float) -> tfma.PerSliceMetricThreshold:
    threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={'value': value}))
    return tfma.PerSliceMetricThreshold(slicing_specs=OVERALL, threshold=threshold)


def _no_regression(gate: GateConfig) -> tfma.MetricConfig:
    """The paired accuracy difference against the serving model: its upper
    bound at regression_confidence must not fall below -max_accuracy_drop
    (TFMA applies change thresholds only when there is a baseline)."""
    threshold = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={'value': -gate.max_accuracy_drop}
        )
    )
    return tfma.MetricConfig(
        class_name=paired_accuracy.PairedAccuracyDifference.__name__,
        module=paired_accuracy.__name__,
        config=json.dumps({'confidence': gate.regression_confidence}),
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(slicing_specs=OVERALL, threshold=threshold)],
    )


def _metrics(gate: GateConfig) -> List[tfma.MetricConfig]:
    """Accuracy with its floor, the no-regression rule, the reported metrics,
    and a floor on each of gate.metric_floors (added when not reported)."""
    metrics = [
        tfma.MetricConfig(class_name='ExampleCount'),
        tfma.MetricConfig(class_name='BinaryAccuracy', per_slice_thresholds=[_floor(gate.min_accuracy)]),
        _no_regression(gate),
        *_reported_metrics(),
    ]
    by_name = {m.class_name: m for m in metrics}
    for name, value in sorted(gate.metric_floors.items()):
        if name not in by_name:
            if not hasattr(tfma.metrics, name):
                raise UserInputError(f'metric floor {name}={value}: TFMA has no metric {name!r} (e.g. AUC, Precision)')
            by_name[name] = tfma.MetricConfig(class_name=name)
            metrics.append(by_name[name])
        by_name[name].per_slice_thresholds.append(_floor(value))
    return metrics


def eval_config(gate: GateConfig) -> tfma.EvalConfig:
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=names.EXAMPLES_SIGNATURE,
                label_key=names.LABEL_FEATURE,
                prediction_key=names.OUTPUT_KEY,
            )
        ],
        # Overall, and per star rating when the data has it (mild vs extreme reviews).
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[names.RATING_FEATURE])],
        metrics_specs=[tfma.MetricsSpec(metrics=_metrics(gate))],
        # The compiled Keras metrics work on logits; the signature returns probabilities.
        # Intervals come from counts (core/intervals.py), not from TFMA's jackknife.
        options=tfma.Options(include_default_metrics={'value': False}),
    )
