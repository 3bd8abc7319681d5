"""Confidence intervals of the release gate's figures, exact or analytic,
from counts the Evaluator already has. They are deterministic and cost no
extra pass; TFMA's own compute_confidence_intervals resamples every slice and
plot (a jackknife over random buckets), which multiplies the Evaluator's work
and gives intervals that differ from run to run."""

import math
from typing import Tuple

from scipy import stats

CONFIDENCE = 0.95  # of every interval the gate reports


def clopper_pearson(successes: int, trials: int, confidence: float = CONFIDENCE) -> Tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial proportion."""
    if trials <= 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    low = stats.beta.ppf(alpha / 2, successes, trials - successes + 1) if successes > 0 else 0.0
    high = stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes) if successes < trials else 1.0
    return float(low), float(high)


def auc_interval(auc: float, positives: int, negatives: int, confidence: float = CONFIDENCE) -> Tuple[float, float]:
    """AUC +- z * its standard error by Hanley and McNeil (1982), from the
    class sizes alone; clipped to [0, 1]."""
    if positives <= 0 or negatives <= 0:
        return 0.0, 1.0
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (
        positives * negatives
    )
    half = stats.norm.ppf(1 - (1 - confidence) / 2) * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)
