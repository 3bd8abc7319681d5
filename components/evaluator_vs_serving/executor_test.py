"""EvaluatorVsServing drops the baseline only when nothing was serving."""

from tfx.types import standard_artifacts, standard_component_specs

from imdb_tfx.components.evaluator_vs_serving import executor
from imdb_tfx.core import names

BASELINE = standard_component_specs.BASELINE_MODEL_KEY
MODEL = standard_component_specs.MODEL_KEY


def _inputs(has_model: int):
    baseline = standard_artifacts.Model()
    baseline.set_int_custom_property(names.HAS_MODEL, has_model)
    return {MODEL: [standard_artifacts.Model()], BASELINE: [baseline]}


def test_an_empty_baseline_is_dropped():
    inputs = _inputs(has_model=0)
    assert set(executor.without_empty_baseline(inputs)) == {MODEL}
    assert set(inputs) == {MODEL, BASELINE}  # the caller's dict is left as it was


def test_a_serving_baseline_is_kept():
    inputs = _inputs(has_model=1)
    assert executor.without_empty_baseline(inputs) is inputs


def test_no_baseline_channel_is_left_alone():
    inputs = {MODEL: [standard_artifacts.Model()]}
    assert executor.without_empty_baseline(inputs) == inputs
