"""The expected calibration error, as TFMA computes it, against its
definition (modules/calibration.py)."""

import numpy as np
import pytest
import tensorflow_model_analysis as tfma

from imdb_tfx.modules import calibration, calibration_error


def _tfma_ece(labels: np.ndarray, predictions: np.ndarray, num_buckets: int = 20) -> float:
    """The metric's computations run as TFMA runs them: the histogram's
    combiner over the examples (two shards merged), then the derived result."""
    metric = calibration_error.ExpectedCalibrationError(num_buckets=num_buckets)
    *histograms, derived = metric.computations(eval_config=tfma.EvalConfig(model_specs=[tfma.ModelSpec()]))
    combiner = histograms[-1].combiner
    shards = []
    for part in np.array_split(np.arange(len(labels)), 2):
        accumulator = combiner.create_accumulator()
        for i in part:
            inputs = tfma.metrics.StandardMetricInputs(
                labels=np.array([labels[i]]), predictions=np.array([predictions[i]]), example_weights=np.array([1.0])
            )
            accumulator = combiner.add_input(accumulator, inputs)
        shards.append(accumulator)
    histogram = combiner.extract_output(combiner.merge_accumulators(shards))
    (value,) = derived.result(histogram).values()
    return value


def test_matches_the_definition_on_20_equal_width_bins():
    rng = np.random.default_rng(0)
    predictions = rng.uniform(0, 1, 2000)
    labels = (rng.uniform(0, 1, 2000) < predictions**2).astype(float)  # overconfident on positives
    value = _tfma_ece(labels, predictions)
    assert value == pytest.approx(calibration.expected_calibration_error(labels, predictions, 20), rel=1e-6)
    assert value > 0.1


def test_a_calibrated_model_scores_near_zero_and_a_saturated_one_does_not():
    rng = np.random.default_rng(1)
    predictions = rng.uniform(0, 1, 20_000)
    labels = (rng.uniform(0, 1, 20_000) < predictions).astype(float)
    assert _tfma_ece(labels, predictions) < 0.02
    # Right 90% of the time, always saying 0 or 1: an error of 0.1.
    saturated = np.where(rng.uniform(0, 1, 20_000) < 0.9, labels, 1 - labels)
    assert _tfma_ece(labels, saturated) == pytest.approx(0.1, abs=0.01)
