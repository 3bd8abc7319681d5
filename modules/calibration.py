"""Temperature scaling: P(positive) = sigmoid(logit / T), with the one number
T fitted on the valid split by maximum likelihood (Guo et al., "On
Calibration of Modern Neural Networks"). Dividing every logit by the same
T > 0 moves no prediction across 0, so accuracy and AUC are unchanged; only
the confidence is corrected (T > 1 softens an overconfident model)."""

import numpy as np
from scipy import optimize, special

# log T is searched in [-4, 4] (T from 0.02 to 55): bounded, so the search
# always ends, and wide enough for a model far too sure or too unsure.
_LOG_T_BOUNDS = (-4.0, 4.0)
BUCKETS = 20


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean binary cross-entropy of sigmoid(logits / temperature) against 0/1 labels."""
    signs = 2 * np.asarray(labels, np.float64) - 1
    return float(np.mean(np.logaddexp(0, -signs * np.asarray(logits, np.float64) / temperature)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    if len(logits) == 0:
        raise ValueError('no examples to fit a temperature on')
    found = optimize.minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, np.exp(log_t)), bounds=_LOG_T_BOUNDS, method='bounded'
    )
    return float(np.exp(found.x))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, buckets: int = BUCKETS) -> float:
    """Over `buckets` equal-width bins of [0, 1]: the gap between the mean
    prediction and the fraction of positives, weighted by the bin's examples
    (the same definition as the Evaluator's metric, modules/calibration_error.py)."""
    probabilities = np.asarray(probabilities, np.float64)
    bins = np.minimum((probabilities * buckets).astype(int), buckets - 1)
    gaps = np.bincount(bins, probabilities - np.asarray(labels, np.float64), minlength=buckets)
    return float(np.abs(gaps).sum() / len(probabilities))


def summary(logits: np.ndarray, labels: np.ndarray) -> dict:
    """The fitted temperature and what it does on the examples it was fitted on."""
    temperature = fit_temperature(logits, labels)
    return {
        'temperature': temperature,
        'examples': int(len(logits)),
        'nll_before': negative_log_likelihood(logits, labels),
        'nll_after': negative_log_likelihood(logits, labels, temperature),
        'ece_before': expected_calibration_error(labels, special.expit(logits)),
        'ece_after': expected_calibration_error(labels, special.expit(logits / temperature)),
    }
