"""The executor hands run_fn the unlabeled split of every unlabeled artifact."""

import os

import pytest
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs

from imdb_tfx.components.semi_supervised_trainer import executor
from imdb_tfx.core import names


def _examples(uri, splits):
    artifact = standard_artifacts.Examples()
    artifact.uri = uri
    artifact.split_names = artifact_utils.encode_split_names(splits)
    return artifact


def test_the_unlabeled_split_of_every_artifact_becomes_a_file_pattern(tmp_path):
    # UnlabeledExampleGen's artifact, an accepted span (labelled splits beside
    # its unlabeled one), and a span accepted without unlabeled reviews.
    artifacts = [
        _examples(str(tmp_path / 'a'), ['unlabeled']),
        _examples(str(tmp_path / 'b'), ['train', 'valid', 'eval', 'unlabeled']),
        _examples(str(tmp_path / 'c'), ['train', 'valid', 'eval']),
    ]
    assert executor.unlabeled_file_patterns(artifacts) == [
        os.path.join(str(tmp_path / 'a'), 'Split-unlabeled', '*'),
        os.path.join(str(tmp_path / 'b'), 'Split-unlabeled', '*'),
    ]


@pytest.mark.parametrize('with_unlabeled', [True, False])
def test_fn_args_carry_the_unlabeled_files_only_when_given(tmp_path, with_unlabeled):
    examples = _examples(str(tmp_path / 'examples'), ['train', 'eval'])
    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = str(tmp_path / 'model'), str(tmp_path / 'run')
    inputs = {standard_component_specs.EXAMPLES_KEY: [examples]}
    if with_unlabeled:
        inputs[executor.UNLABELED_EXAMPLES_KEY] = [_examples(str(tmp_path / 'u'), ['unlabeled'])]
    fn_args = executor.Executor()._GetFnArgs(
        inputs,
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_RUN_KEY: [model_run]},
        {
            standard_component_specs.TRAIN_ARGS_KEY: '{}',
            standard_component_specs.EVAL_ARGS_KEY: '{}',
            standard_component_specs.CUSTOM_CONFIG_KEY: '{"epochs": 3}',
        },
    )
    expected = {'epochs': 3}
    if with_unlabeled:
        expected[names.UNLABELED_FILES_KEY] = [os.path.join(str(tmp_path / 'u'), 'Split-unlabeled', '*')]
    assert fn_args.custom_config == expected
    assert fn_args.train_files == [os.path.join(str(tmp_path / 'examples'), 'Split-train', '*')]
