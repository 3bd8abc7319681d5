"""Warm start on real SavedModels: a new model over another vocabulary takes
the serving model's rows word by word, its buckets and its head whole."""

import numpy as np
import pytest
import tensorflow as tf

from imdb_tfx.modules import model as model_lib
from imdb_tfx.modules import text_embedding, warm_start
from imdb_tfx.modules.hparams import Hyperparameters


@pytest.fixture(scope='module')
def serving_and_new(tmp_path_factory, tiny_vectors):
    words, vectors = tiny_vectors
    root = tmp_path_factory.mktemp('warm')
    # The serving model's module has words 0-1999, the new one words 1000-2999.
    old_module, new_module = str(root / 'old-module'), str(root / 'new-module')
    text_embedding.build_text_embedding(words[:2000], vectors[:2000], old_module, bigram_buckets=8)
    text_embedding.build_text_embedding(words[1000:], vectors[1000:], new_module, bigram_buckets=8)
    hp = Hyperparameters(hub_handle=old_module, epochs=1)
    serving = model_lib.build_model(hp)
    # Weights no fresh model has: every variable moved away from its start.
    for variable in serving.weights:
        variable.assign(variable + tf.random.stateless_normal(variable.shape, seed=[1, 2]))
    model_lib.export(serving, str(root / 'serving'))
    return str(root / 'serving'), new_module, words


def test_shared_words_buckets_and_head_come_from_the_serving_model(serving_and_new):
    serving_dir, new_module, words = serving_and_new
    weights = warm_start.serving_weights(serving_dir)
    new = model_lib.build_model(Hyperparameters(hub_handle=new_module, epochs=1))
    fresh_table = new.get_layer(warm_start.EMBEDDING_LAYER).weights[0].numpy()
    weights.copy_to(new, new_module)

    old_table = weights.variables['embeddings']
    table = new.get_layer(warm_start.EMBEDDING_LAYER).weights[0].numpy()
    # Words 1000-1999 are in both: the new rows 0-999 are the old rows 1000-1999.
    np.testing.assert_array_equal(table[:1000], old_table[1000:2000])
    # Words 2000-2999 only the new vocabulary has: they keep their new start.
    np.testing.assert_array_equal(table[1000:2000], fresh_table[1000:2000])
    # The OOV and bigram buckets (hashes, not words), whole.
    np.testing.assert_array_equal(table[2000:], old_table[2000:])
    for name in warm_start.HEAD_LAYERS:
        kernel, bias = new.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, weights.variables[f'{name}/kernel'])
        np.testing.assert_array_equal(bias, weights.variables[f'{name}/bias'])
    assert weights.copied == {
        'from': serving_dir,
        'words_copied': 1000,
        'words': 2000,
        'buckets_copied': 9,
        'head_layers_copied': list(warm_start.HEAD_LAYERS),
    }


def test_nothing_serving_means_a_cold_start(tmp_path):
    assert warm_start.serving_weights(str(tmp_path)) is None  # ServingBaseline's empty folder
    assert warm_start.serving_weights(None) is None
