"""The paired no-regression metric: exact counts and interval, and the
decision it gives inside TFMA's Evaluator on a candidate and a baseline."""

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from scipy import stats

from imdb_tfx.core import names
from imdb_tfx.modules import paired_accuracy
from imdb_tfx.modules.paired_accuracy import LOWER, P_VALUE, UPPER, PairedCounts, paired_difference


def test_identical_answers_are_no_difference():
    assert paired_difference(PairedCounts(1000, 0, 0), 0.95)[UPPER] == 0.0


def test_interval_is_exact_and_agrees_with_mcnemar():
    # 5,000 reviews, 200 discordant: 80 the candidate alone gets right, 120 the serving model.
    values = paired_difference(PairedCounts(5000, 80, 120), 0.95)
    assert values['accuracy_difference'] == pytest.approx(-0.008)
    # Clopper-Pearson for 120 of 200, mapped onto the difference.
    low, high = stats.binomtest(120, 200).proportion_ci(0.95, method='exact')
    assert values[LOWER] == pytest.approx(200 * (1 - 2 * high) / 5000)
    assert values[UPPER] == pytest.approx(200 * (1 - 2 * low) / 5000)
    # The interval excludes 0 exactly when McNemar's exact test rejects at 5%.
    assert values[P_VALUE] == pytest.approx(stats.binomtest(120, 200).pvalue)
    assert (values[UPPER] < 0) == (values[P_VALUE] < 0.05)
    assert values[UPPER] < 0 and values[P_VALUE] < 0.01


@pytest.mark.parametrize('b, c', [(100, 100), (95, 105), (100, 120), (90, 130), (0, 7), (7, 0), (1, 0)])
def test_interval_excludes_zero_iff_mcnemar_rejects(b, c):
    values = paired_difference(PairedCounts(2000, b, c), 0.95)
    assert values[LOWER] <= values['accuracy_difference'] <= values[UPPER]
    assert (values[UPPER] < 0 or values[LOWER] > 0) == (values[P_VALUE] < 0.05)


def test_noise_is_not_a_regression():
    """A difference of 0.4 points (20 of 5,000 reviews) among 300 discordant
    ones is within noise: not worse with 95% confidence."""
    values = paired_difference(PairedCounts(5000, 140, 160), 0.95)
    assert values['accuracy_difference'] < 0 < values[UPPER]


def _evaluate(candidate_right: np.ndarray, serving_right: np.ndarray, confidence: float = 0.95):
    """The metric's combiner, as TFMA runs it (two shards merged), on
    predictions given as right or wrong per review."""
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name='candidate'), tfma.ModelSpec(name='baseline', is_baseline=True)]
    )
    metric = paired_accuracy.PairedAccuracyDifference(confidence=confidence)
    (computation,) = metric.computations(eval_config=eval_config, model_names=['candidate', 'baseline'])
    labels = np.ones(len(candidate_right))
    inputs = [
        tfma.metrics.StandardMetricInputs(
            labels=np.array([1.0]),
            predictions={'candidate': np.array([0.9 if c else 0.1]), 'baseline': np.array([0.9 if s else 0.1])},
            example_weights=np.array([1.0]),
        )
        for c, s, _ in zip(candidate_right, serving_right, labels)
    ]
    combiner = computation.combiner
    halves = [combiner.create_accumulator(), combiner.create_accumulator()]
    for i, element in enumerate(inputs):
        combiner.add_input(halves[i % 2], element)
    result = combiner.extract_output(combiner.merge_accumulators(halves))
    return {key.name: value for key, value in result.items()}


def test_counted_from_both_models_predictions():
    rng = np.random.default_rng(0)
    serving = rng.random(2000) < 0.88
    candidate = serving.copy()
    candidate[:60] = False  # 60 reviews the serving model may get right...
    candidate[60:80] = True  # ...and 20 more right
    values = _evaluate(candidate, serving)
    b = int((candidate & ~serving).sum())
    c = int((serving & ~candidate).sum())
    assert (values['candidate_only_correct'], values['serving_only_correct']) == (b, c)
    assert values['accuracy_difference'] == pytest.approx((b - c) / 2000)
    assert values[UPPER] < 0  # clearly worse


def test_no_baseline_no_computation():
    metric = paired_accuracy.PairedAccuracyDifference()
    assert metric.computations(eval_config=tfma.EvalConfig(model_specs=[tfma.ModelSpec()]), model_names=['']) == []


def test_the_class_is_named_as_the_gate_reads_it():
    assert paired_accuracy.PairedAccuracyDifference.__name__ == names.PAIRED_ACCURACY_METRIC


def test_confidence_must_be_a_probability():
    with pytest.raises(ValueError, match='confidence'):
        paired_accuracy.PairedAccuracyDifference(confidence=95)
