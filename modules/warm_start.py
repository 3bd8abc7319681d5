"""Warm start: a freshly built model takes the serving model's weights
(Trainer's base_model, the copy ServingBaseline made), so training on a new
window of spans continues from what serves instead of from GloVe.

The embedding tables of two windows differ in their vocabularies (each is
GloVe restricted to its window's words), so rows are copied word by word;
the out-of-vocabulary and bigram buckets (hashes, not words) are copied whole
when both tables have as many; the head layers whole when their shapes agree.
Both models come from the same recipe, so both tables share its scale."""

import logging
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from imdb_tfx.modules.model import EMBEDDING_LAYER, HEAD_LAYERS
from imdb_tfx.modules.text_embedding import VOCAB_FILE_NAME


def _words(path: str) -> list:
    with tf.io.gfile.GFile(path, 'r') as f:
        return f.read().split('\n')[:-1]


class ServingWeights:
    """The serving model's variables and vocabulary, read once per Trainer run."""

    def __init__(self, saved_model: str):
        self.path = saved_model
        loaded = tf.saved_model.load(saved_model)
        self.variables = {v.name.split(':')[0]: v.numpy() for v in loaded.variables}
        self.words = _words(os.path.join(saved_model, 'assets', VOCAB_FILE_NAME))
        self.copied: dict = {}  # what the last copy_to copied

    def copy_to(self, model: tf.keras.Model, hub_handle: str) -> None:
        """Sets MODEL's weights from these where they correspond. hub_handle:
        the new model's embedding module (its vocabulary)."""
        old_table = self.variables['embeddings']
        vocabulary = os.path.join(hub_handle, 'assets', VOCAB_FILE_NAME)
        # A module without a vocabulary file (e.g. from tfhub.dev): only the head is copied.
        new_words = _words(vocabulary) if tf.io.gfile.exists(vocabulary) else []
        table_variable = model.get_layer(EMBEDDING_LAYER).weights[0]
        table = table_variable.numpy()
        row_of = {word: row for row, word in enumerate(self.words)}
        pairs = [(new, row_of[word]) for new, word in enumerate(new_words) if word in row_of]
        if pairs:
            new_rows, old_rows = map(np.array, zip(*pairs))
            table[new_rows] = old_table[old_rows]
        buckets = table.shape[0] - len(new_words)
        same_buckets = (
            bool(new_words) and buckets == old_table.shape[0] - len(self.words) and table.shape[1] == old_table.shape[1]
        )
        if same_buckets:
            table[len(new_words) :] = old_table[len(self.words) :]
        table_variable.assign(table)
        heads = []
        for name in HEAD_LAYERS:
            layer = model.get_layer(name)
            weights = [self.variables.get(f'{name}/kernel'), self.variables.get(f'{name}/bias')]
            shapes = [w.shape for w in layer.get_weights()]
            if all(w is not None for w in weights) and [w.shape for w in weights] == shapes:
                layer.set_weights(weights)
                heads.append(name)
        self.copied = {
            'from': self.path,
            'words_copied': len(pairs),
            'words': len(new_words),
            'buckets_copied': buckets if same_buckets else 0,
            'head_layers_copied': heads,
        }
        logging.info('Warm start: %s', self.copied)


def serving_weights(base_model: Optional[str]) -> Optional[ServingWeights]:
    """The base model's weights; None when nothing was serving (base_model
    is then an empty folder) or no base model was given."""
    if base_model and tf.io.gfile.exists(os.path.join(base_model, 'saved_model.pb')):
        return ServingWeights(base_model)
    return None
