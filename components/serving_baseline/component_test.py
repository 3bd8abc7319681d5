"""ServingBaseline's executor on a serving directory on TensorFlow's in-memory
filesystem (ram://), which stands in for object storage: any local-only call
(open, os.*) on it fails."""

import os

from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from conftest import constant_model
from imdb_tfx.components.serving_baseline.component import ServingBaseline
from imdb_tfx.core import names, serving


def _baseline(ram_dir: str, serving_dir: str) -> standard_artifacts.Model:
    baseline = standard_artifacts.Model()
    baseline.uri = f'{ram_dir}/baseline'
    ServingBaseline.EXECUTOR_SPEC.executor_class().Do({}, {'baseline': [baseline]}, {'serving_dir': serving_dir})
    return baseline


def test_the_newest_version_becomes_the_baseline(ram_dir):
    serving_dir = f'{ram_dir}/serving'
    serving.publish(constant_model(f'{ram_dir}/old', 1.0), serving_dir)
    newest = serving.publish(constant_model(f'{ram_dir}/new', 2.0), serving_dir)

    baseline = _baseline(ram_dir, serving_dir)

    assert baseline.get_int_custom_property(names.HAS_MODEL) == 1
    assert baseline.get_string_custom_property('serving_path') == newest
    assert serving.same_model(os.path.join(baseline.uri, 'Format-Serving'), newest)


def test_nothing_serving_is_a_baseline_without_a_model(ram_dir):
    baseline = _baseline(ram_dir, f'{ram_dir}/serving')
    assert baseline.get_int_custom_property(names.HAS_MODEL) == 0
    assert not fileio.exists(os.path.join(baseline.uri, 'Format-Serving'))


def test_a_newest_version_of_another_model_is_never_the_baseline(ram_dir):
    serving_dir = f'{ram_dir}/serving'
    serving.publish(constant_model(f'{ram_dir}/ours', 1.0), serving_dir)
    foreign = serving.publish(constant_model(f'{ram_dir}/theirs', 2.0, signatures=('predict',)), serving_dir)

    baseline = _baseline(ram_dir, serving_dir)

    assert baseline.get_int_custom_property(names.HAS_MODEL) == 0
    assert baseline.get_string_custom_property(names.PROBLEMS) == (
        f"{foreign}: not a model of this pipeline (no serving_default or serving_text signature; it has ['predict'])"
    )
    assert not fileio.exists(os.path.join(baseline.uri, 'Format-Serving'))
