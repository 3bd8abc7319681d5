"""The configuration objects: built once from the options (the recipe's
preset, the user's options on top), and fitted to the data a local run has."""

import dataclasses

import pytest

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.hparams import PIPELINE_BUILT_HUB_HANDLE
from imdb_tfx.pipeline import configs, options, recipes
from imdb_tfx.pipeline.config import DataConfig, DataFacts, SpansConfig, TrainingConfig, fit_to_data

FULL = DataFacts(
    root='/data', is_spans=False, has_movie_ids=True, has_unlabeled=True, has_test_split=True, train_shards=10
)


def config_of(*args):
    return options.from_options(options.parse_options(args))


def test_no_options_give_the_default_recipe_and_every_default():
    config = config_of()
    preset = recipes.get(recipes.DEFAULT_RECIPE)
    assert config.recipe == recipes.DEFAULT_RECIPE and config.hub is None
    assert config.training.hyperparameters == dataclasses.replace(
        preset.hyperparameters, hub_handle=PIPELINE_BUILT_HUB_HANDLE
    )
    assert config.training.embedding == preset.embedding
    assert config.training.use_unlabeled == preset.hyperparameters.self_trains
    assert config.data == DataConfig()
    assert (config.gate.min_accuracy, config.gate.max_accuracy_drop, config.gate.regression_confidence) == (
        configs.MIN_ACCURACY,
        configs.MAX_ACCURACY_DROP,
        configs.REGRESSION_CONFIDENCE,
    )
    assert config.gate.metric_floors == {}
    assert config.spans == SpansConfig()
    assert config.enable_cache and config.given == {'recipe'}


def test_options_go_on_top_of_the_recipe_in_one_place():
    config = config_of(
        '--recipe', 'seed', '--epochs', '3', '--self-training-confidence', '0', '--min-accuracy', '0.7',
        '--min-metric', 'AUC=0.9', '--split', 'random', '--infer-schema', '--window', '2',
        '--max-drift', 'rating=0.5', '--no-cache', '--hub', '/modules/m',
    )  # fmt: skip
    seed = recipes.get('seed').hyperparameters
    assert config.training.hyperparameters == dataclasses.replace(
        seed, epochs=3, self_training_confidence=0.0, hub_handle='/modules/m'
    )
    assert config.training.embedding is None  # a hub module replaces the recipe's
    assert config.gate.min_accuracy == 0.7 and config.gate.metric_floors == {'AUC': 0.9}
    assert config.data == DataConfig(split='random', schema_file=None)
    assert config.spans.window == 2 and config.spans.drift_thresholds['rating'] == 0.5
    assert not config.enable_cache
    assert {'epochs', 'self_training_confidence', 'window', 'split'} <= config.given


@pytest.mark.parametrize(
    'args, message',
    [
        (['--self-training-confidence', '1.5'], 'self_training_confidence must be 0 (off) or in [0.5, 1)'),
        (['--max-drift', 'length=0.5'], "no measure 'length'"),
        (['--min-metric', 'AUC=high'], "--min-metric AUC=high: 'high' is not a number"),
    ],
)
def test_bad_options_are_named(args, message):
    with pytest.raises(UserInputError, match=message.replace('[', r'\[').replace('(', r'\(').replace(')', r'\)')):
        config_of(*args)


def test_full_data_changes_nothing():
    config = config_of()
    fitted, spans, notes = fit_to_data(config, FULL)
    assert (fitted, spans, notes) == (config, None, [])


def test_without_movie_ids_the_default_split_is_random_with_a_note():
    fitted, _, notes = fit_to_data(config_of(), dataclasses.replace(FULL, has_movie_ids=False))
    assert fitted.data.split == configs.SPLIT_RANDOM
    assert notes == [
        'no movie_id in /data: split at random, so reviews of one movie may be on both sides '
        '(eval accuracy flatters by about 1-2 points)'
    ]


def test_an_asked_for_movie_split_is_not_bent():
    with pytest.raises(UserInputError, match='no movie_id in this data'):
        fit_to_data(config_of('--split', 'movie'), dataclasses.replace(FULL, has_movie_ids=False))


def test_without_unlabeled_reviews_the_recipe_does_not_self_train_with_a_note():
    fitted, _, notes = fit_to_data(config_of(), dataclasses.replace(FULL, has_unlabeled=False))
    assert not fitted.training.use_unlabeled
    assert fitted.training.hyperparameters.self_training_confidence == 0.0
    assert notes == [
        'no unlabeled reviews in /data: trained without self-training '
        f'(the {recipes.DEFAULT_RECIPE} recipe self-trains)'
    ]


def test_asked_for_self_training_needs_unlabeled_reviews():
    with pytest.raises(UserInputError, match='no unlabeled reviews .* use --self-training-confidence 0'):
        fit_to_data(config_of('--self-training-confidence', '0.8'), dataclasses.replace(FULL, has_unlabeled=False))


def test_a_spans_folder_gets_the_spans_settings_and_a_window_needs_one():
    config = config_of('--window', '2')
    _, spans, _ = fit_to_data(config, dataclasses.replace(FULL, is_spans=True))
    assert spans == SpansConfig(window=2)
    with pytest.raises(UserInputError, match='--window: /data is not a spans folder'):
        fit_to_data(config, FULL)


@pytest.mark.parametrize(
    'facts, message',
    [
        (dataclasses.replace(FULL, has_test_split=False), 'no test split'),
        (dataclasses.replace(FULL, train_shards=1), 'one train shard'),
        (dataclasses.replace(FULL, is_spans=True), 'spans have no test split'),
    ],
)
def test_the_source_split_needs_a_test_split_and_several_shards(facts, message):
    with pytest.raises(UserInputError, match=message):
        fit_to_data(config_of('--split', 'source'), facts)


def test_objects_check_their_values():
    with pytest.raises(ValueError, match='split must be one of'):
        DataConfig(split='by-year')
    with pytest.raises(ValueError, match='exactly one of module_file and run_fn'):
        TrainingConfig(module_file=None)
    with pytest.raises(ValueError, match='window must be >= 1'):
        SpansConfig(window=0)
