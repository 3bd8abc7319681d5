"""What decided each metric rule of the gate, in one line: the measured value
with its interval against the floor, and the paired comparison against the
serving model."""

from typing import Optional, Tuple

from imdb_tfx.outcome.evaluation import Comparison
from imdb_tfx.outcome.thresholds import ACCURACY


def decimal(value: Optional[float]) -> str:
    """A metric's value as the summary and the rules print it."""
    return 'nan' if value is None else f'{value:.4f}'


def floor_detail(
    metric: str,
    value: Optional[float],
    interval: Optional[Tuple[float, float]],
    bound: Optional[float],
    passed: Optional[bool],
) -> str:
    label = 'accuracy' if metric == ACCURACY else metric
    if value is None:
        return f'{label} not measured'
    measured = f'{label} {decimal(value)}'
    if interval:
        measured += f' [{decimal(interval[0])}, {decimal(interval[1])}]'
    return f'{measured} {">=" if passed else "below"} the floor {bound}'


def no_regression_detail(
    comparison: Optional[Comparison], passed: Optional[bool], max_drop: float, confidence: float, reviews: int
) -> str:
    c = comparison
    if c is None:
        return 'no model serving (first push): nothing to compare'
    worse = f'worse than the serving model by more than {max_drop:g}' if max_drop else 'worse than the serving model'
    verdict = f'not {worse} with {confidence:g} confidence' if passed else f'{worse} with {confidence:g} confidence'
    return (
        f'{verdict}: paired difference {c.difference:+.4f} [{c.lower:+.4f}, {c.upper:+.4f}] on '
        f'{reviews} reviews ({c.candidate_only_correct} right by the candidate only, '
        f'{c.serving_only_correct} by the serving model only; McNemar exact p={c.p_value:.3g})'
    )
