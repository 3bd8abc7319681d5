"""A TFMA metric for the release gate's no-regression rule: the candidate's
accuracy minus the serving model's, paired on the same eval reviews, with an
exact confidence interval.

Of n reviews, b are right by the candidate only and c by the serving model
only; the difference is (b - c) / n. Given the m = b + c discordant reviews,
c is binomial(m, p), so a Clopper-Pearson interval for p is an exact interval
for the difference, m (1 - 2p) / n. Its upper bound is below 0 exactly when
McNemar's exact test, two-sided at 1 - confidence, finds the candidate worse.
The Evaluator rejects the candidate when that upper bound is below minus the
allowed drop (a change threshold on UPPER, pipeline/pipeline.py)."""

import dataclasses
from typing import Dict, Iterable, List, Optional

import apache_beam as beam
from scipy import stats
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.utils import model_util

from imdb_tfx.core import intervals, names

DIFFERENCE = names.ACCURACY_DIFFERENCE
LOWER = names.ACCURACY_DIFFERENCE_LOWER
UPPER = names.ACCURACY_DIFFERENCE_UPPER  # the gated key: the metric's name
P_VALUE = names.MCNEMAR_P_VALUE
CANDIDATE_ONLY = names.CANDIDATE_ONLY_CORRECT
SERVING_ONLY = names.SERVING_ONLY_CORRECT
# The probability at which a prediction counts as positive (BinaryAccuracy's).
_THRESHOLD = 0.5


@dataclasses.dataclass
class PairedCounts:
    examples: int = 0
    candidate_only: int = 0  # b
    serving_only: int = 0  # c

    def merge(self, other: 'PairedCounts') -> None:
        self.examples += other.examples
        self.candidate_only += other.candidate_only
        self.serving_only += other.serving_only


def paired_difference(counts: PairedCounts, confidence: float) -> Dict[str, float]:
    """The difference, its exact interval at `confidence` and McNemar's exact
    two-sided p-value, from the paired counts."""
    n, b, c = counts.examples, counts.candidate_only, counts.serving_only
    m = b + c
    if m == 0:  # the same answer on every review (or no reviews)
        return {DIFFERENCE: 0.0, LOWER: 0.0, UPPER: 0.0, P_VALUE: 1.0, CANDIDATE_ONLY: b, SERVING_ONLY: c}
    # Bounds of p = P(the serving model is the one right | discordant).
    p_low, p_high = intervals.clopper_pearson(c, m, confidence)
    return {
        DIFFERENCE: (b - c) / n,
        LOWER: m * (1 - 2 * p_high) / n,
        UPPER: m * (1 - 2 * p_low) / n,
        P_VALUE: float(stats.binomtest(c, m, 0.5).pvalue),
        CANDIDATE_ONLY: b,
        SERVING_ONLY: c,
    }


class _PairedCountsCombiner(beam.CombineFn):
    def __init__(
        self,
        keys: Dict[str, metric_types.MetricKey],
        eval_config: config_pb2.EvalConfig,
        candidate: str,
        serving: str,
        output_name: str,
        confidence: float,
    ):
        self._keys = keys
        self._eval_config = eval_config
        self._candidate = candidate
        self._serving = serving
        self._output_name = output_name
        self._confidence = confidence

    def _correct(self, element: metric_types.StandardMetricInputs, model_name: str) -> bool:
        label, prediction, _ = next(
            metric_util.to_label_prediction_example_weight(
                inputs=element,
                eval_config=self._eval_config,
                model_name=model_name,
                output_name=self._output_name,
                example_weighted=False,
                flatten=True,
            )
        )
        return bool((prediction.item() > _THRESHOLD) == (label.item() > _THRESHOLD))

    def create_accumulator(self) -> PairedCounts:
        return PairedCounts()

    def add_input(self, accumulator: PairedCounts, element: metric_types.StandardMetricInputs) -> PairedCounts:
        candidate, serving = self._correct(element, self._candidate), self._correct(element, self._serving)
        accumulator.merge(PairedCounts(1, int(candidate and not serving), int(serving and not candidate)))
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[PairedCounts]) -> PairedCounts:
        result = PairedCounts()
        for accumulator in accumulators:
            result.merge(accumulator)
        return result

    def extract_output(self, accumulator: PairedCounts) -> Dict[metric_types.MetricKey, float]:
        values = paired_difference(accumulator, self._confidence)
        return {key: values[name] for name, key in self._keys.items()}


def _computations(
    name: str,
    confidence: float,
    eval_config: config_pb2.EvalConfig,
    model_names: Optional[List[str]] = None,
    output_names: Optional[List[str]] = None,
) -> metric_types.MetricComputations:
    """Nothing without a baseline (the first push): TFMA then drops the change
    threshold, and the accuracy floor alone decides."""
    serving_spec = model_util.get_baseline_model_spec(eval_config)
    if serving_spec is None:
        return []
    computations = []
    for candidate in model_names or ['']:
        if candidate == serving_spec.name:
            continue
        for output_name in output_names or ['']:
            keys = {
                key_name: metric_types.MetricKey(
                    # The gated key carries the metric's name, so the threshold finds it.
                    name=name if key_name == UPPER else key_name,
                    model_name=candidate,
                    output_name=output_name,
                    example_weighted=False,
                    is_diff=True,
                )
                for key_name in (DIFFERENCE, LOWER, UPPER, P_VALUE, CANDIDATE_ONLY, SERVING_ONLY)
            }
            computations.append(
                metric_types.MetricComputation(
                    keys=list(keys.values()),
                    preprocessors=None,
                    combiner=_PairedCountsCombiner(
                        keys, eval_config, candidate, serving_spec.name, output_name, confidence
                    ),
                )
            )
    return computations


class PairedAccuracyDifference(metric_types.Metric):
    """Candidate minus serving accuracy on the same reviews, with its exact
    interval at `confidence` (MetricConfig config: {"confidence": 0.95})."""

    def __init__(self, name: str = UPPER, confidence: float = 0.95):
        if not 0 < confidence < 1:
            raise ValueError(f'confidence must be in (0, 1), got {confidence}')
        super().__init__(_computations, name=name, confidence=confidence)

    @property
    def compute_confidence_interval(self) -> bool:
        return False  # the metric is its own interval; the jackknife adds nothing
