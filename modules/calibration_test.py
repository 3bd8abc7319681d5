"""Temperature scaling: the fit finds the temperature that generated the
labels, keeps decisions, and lowers the calibration error."""

import numpy as np
import pytest
from scipy import special

from imdb_tfx.modules import calibration


def _overconfident(n=20_000, true_temperature=3.0, seed=0):
    """Labels drawn from sigmoid(z / 3), reported as logits z: 3x too confident."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 6, n)
    labels = (rng.uniform(size=n) < special.expit(logits / true_temperature)).astype(np.float32)
    return logits, labels


def test_fit_recovers_the_temperature_that_generated_the_labels():
    logits, labels = _overconfident()
    assert calibration.fit_temperature(logits, labels) == pytest.approx(3.0, rel=0.05)


def test_summary_lowers_log_loss_and_calibration_error():
    logits, labels = _overconfident()
    fitted = calibration.summary(logits, labels)
    assert fitted['nll_after'] < fitted['nll_before']
    assert fitted['ece_before'] > 0.1
    assert fitted['ece_after'] < 0.02
    assert fitted['examples'] == len(logits)


def test_a_calibrated_model_keeps_a_temperature_near_one():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, 20_000)
    labels = (rng.uniform(size=len(logits)) < special.expit(logits)).astype(np.float32)
    assert calibration.fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.1)


def test_expected_calibration_error_by_hand():
    # Two bins used of 20: [0.1, 0.15) holds 0.1, 0.1 with one positive (gap 0.8),
    # [0.9, 0.95) holds 0.9 with a positive (gap 0.1): (0.8 + 0.1) / 3.
    labels = np.array([1, 0, 1])
    assert calibration.expected_calibration_error(labels, np.array([0.1, 0.1, 0.9])) == pytest.approx(0.3)
    assert calibration.expected_calibration_error(np.array([1.0]), np.array([1.0])) == 0.0


def test_no_examples_is_an_error():
    with pytest.raises(ValueError, match='no examples'):
        calibration.fit_temperature(np.array([]), np.array([]))
