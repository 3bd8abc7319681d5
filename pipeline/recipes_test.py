"""The recipe presets: seed is the tutorial exactly; every preset is valid."""

import dataclasses
import json

import pytest

from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline import recipes


def test_seed_is_the_tutorial_exactly():
    seed = recipes.get('seed')
    assert seed.hyperparameters == Hyperparameters()
    assert dataclasses.asdict(seed.hyperparameters) | {'hub_handle': None} == dict(
        hub_handle=None,
        epochs=20,
        batch_size=512,
        learning_rate=0.001,
        hidden_units=16,
        dropout=0.0,
        early_stopping_patience=0,
        min_patience_steps=100,  # no effect without early stopping
        self_training_confidence=0.0,
        self_training_teacher='network',  # no effect without self-training
        self_training_rounds=1,
        refit=False,
        calibrate=False,
        warm_start=False,
        warm_start_epochs=3,
        seed=42,
    )
    assert seed.embedding == recipes.EmbeddingSpec()  # plain GloVe, no bigrams


@pytest.mark.parametrize('name', list(recipes.RECIPES))
def test_every_recipe_is_valid_and_documented(name):
    recipe = recipes.get(name)
    assert recipe.description
    hp = recipe.hyperparameters
    # TFX hands custom_config to the Trainer as JSON: every field must survive it.
    assert Hyperparameters.from_custom_config(json.loads(json.dumps(hp.to_custom_config()))) == hp


def test_best_is_the_default_adds_bigrams_and_self_trains():
    assert recipes.DEFAULT_RECIPE == 'best'
    best = recipes.get('best')
    assert best.embedding.bigram_buckets > 0
    assert best.hyperparameters.self_training_confidence == 0.9
    assert best.hyperparameters.self_training_rounds == 2
    assert best.hyperparameters.refit
    assert best.embedding.linear_buckets == 2**22


def test_fast_is_best_without_the_linear_score():
    best, fast = recipes.get('best'), recipes.get('fast')
    assert fast.embedding.linear_buckets == 0
    assert dataclasses.replace(fast.embedding, linear_buckets=best.embedding.linear_buckets) == best.embedding
    assert fast.hyperparameters == best.hyperparameters
    assert fast.embedding.module_name != best.embedding.module_name


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match='seed'):
        recipes.get('fastest')
