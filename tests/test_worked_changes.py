"""docs/architecture.md's three worked changes, each made here through the
files the doc names and nothing else, and the pipeline still compiles for
both runners: a gate rule (pipeline/configs.py), a recipe
(pipeline/recipes.py) and a custom component (its folder, core/names.py and
one builder in pipeline/pipeline.py)."""

import os

import pytest
import tensorflow_model_analysis as tfma
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputDict
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from conftest import default_pipeline
from imdb_tfx.core import names
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.kubeflow import runner
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline import configs, local_runner, options, recipes
from imdb_tfx.pipeline import pipeline as pipeline_module
from imdb_tfx.pipeline.config import GateConfig, Locations
from imdb_tfx.pipeline.recipes import EmbeddingSpec, Recipe


def _node_ids(pipeline) -> list:
    return [node.pipeline_node.node_info.id for node in local_runner.compile_ir(pipeline).nodes]


def _floors(pipeline) -> dict:
    """{metric: lower bound} of the Evaluator's thresholds on the overall slice."""
    [evaluator] = [c for c in pipeline.components if c.id == names.EVALUATOR]
    config = proto_utils.json_to_proto(evaluator.exec_properties['eval_config'], tfma.EvalConfig())
    return {
        metric.class_name: threshold.threshold.value_threshold.lower_bound.value
        for metric in config.metrics_specs[0].metrics
        for threshold in metric.per_slice_thresholds
        if threshold.threshold.HasField('value_threshold')
    }


def _compiles_for_kubeflow(tmp_path, config) -> bool:
    locations = Locations(pipeline_root='/mnt/root', data_root='/mnt/data', serving_dir='/mnt/serving')
    return os.path.isfile(runner.compile_pipeline(str(tmp_path / 'p.yaml'), 'image:tag', locations, config))


def test_a_gate_rule_is_one_entry_in_configs(monkeypatch, tmp_path):
    """A minimum AUC for every run: METRIC_FLOORS in pipeline/configs.py."""
    monkeypatch.setattr(configs, 'METRIC_FLOORS', {'AUC': 0.95})
    config = options.from_options(options.parse_options([]))
    assert _floors(default_pipeline(gate=config.gate)) == {'BinaryAccuracy': configs.MIN_ACCURACY, 'AUC': 0.95}
    assert _compiles_for_kubeflow(tmp_path, config)
    # A metric the gate did not compute yet is added; one TFMA lacks is named.
    assert _floors(default_pipeline(gate=GateConfig(metric_floors={'Specificity': 0.8})))['Specificity'] == 0.8
    with pytest.raises(UserInputError, match="TFMA has no metric 'Recal'"):
        default_pipeline(gate=GateConfig(metric_floors={'Recal': 0.8}))


def test_a_recipe_is_one_entry_in_recipes(monkeypatch, tmp_path):
    wide = Recipe(
        description='A wider head on GloVe with bigrams.',
        embedding=EmbeddingSpec(bigram_buckets=1024),
        hyperparameters=Hyperparameters(hidden_units=64, dropout=0.2),
    )
    monkeypatch.setitem(recipes.RECIPES, 'wide', wide)
    config = options.from_options(options.parse_options(['--recipe', 'wide', '--epochs', '4']))
    assert (config.training.hyperparameters.hidden_units, config.training.hyperparameters.epochs) == (64, 4)
    assert config.training.embedding == wide.embedding
    assert _compiles_for_kubeflow(tmp_path, config)
    trained = runner.image_training(config.training)  # a module that does not depend on the data is baked in
    assert trained.hyperparameters.hub_handle == runner.image_hub_handle(wide.embedding)


@component
def ReviewCounter(examples: InputArtifact[standard_artifacts.Examples]) -> OutputDict(count=int):
    """Stands in for a component of components/<name>/."""
    return {'count': 0}


def test_a_custom_component_joins_the_pipeline_in_one_builder(monkeypatch, tmp_path):
    release_nodes = pipeline_module._release_nodes

    def release_nodes_and_a_counter(gate, model, judged, baseline, serving_dir):
        return [*release_nodes(gate, model, judged, baseline, serving_dir), ReviewCounter(examples=judged)]

    monkeypatch.setattr(pipeline_module, '_release_nodes', release_nodes_and_a_counter)
    assert 'ReviewCounter' in _node_ids(default_pipeline())
    assert _compiles_for_kubeflow(tmp_path, options.from_options(options.parse_options([])))
