"""The tutorial's model: a TF-Hub text-embedding layer on raw strings and a
small Keras head, plus the two serving signatures it is exported with."""

import tensorflow as tf
import tensorflow_hub as hub

from imdb_tfx.core.names import EXAMPLES_SIGNATURE, OUTPUT_KEY, TEXT_FEATURE, TEXT_SIGNATURE
from imdb_tfx.modules.hparams import Hyperparameters

EMBEDDING_LAYER = 'embedding'
HEAD_LAYERS = ('hidden', 'logits')


def build_model(hp: Hyperparameters) -> tf.keras.Model:
    """hub layer (trainable) -> Dense(hidden, relu) -> Dense(1) logits, with
    optional dropout around the hidden layer. A module with a linear score
    (modules/text_embedding.py) adds that score, its last column, to the
    logit: zero until the Trainer fits it (modules/linear_score.py)."""

    def dropout(seed):
        return [tf.keras.layers.Dropout(hp.dropout, seed=seed)] if hp.dropout else []

    embedding = hub.KerasLayer(hp.hub_handle, input_shape=[], dtype=tf.string, trainable=True, name=EMBEDDING_LAYER)
    texts = tf.keras.Input(shape=[], dtype=tf.string, name=TEXT_FEATURE)
    embedded = embedding(texts)
    linear = has_linear_score(embedding)
    x = embedded[:, :-1] if linear else embedded
    for layer in [
        *dropout(hp.seed),
        tf.keras.layers.Dense(hp.hidden_units, activation='relu', name=HEAD_LAYERS[0]),
        *dropout(hp.seed + 1),
        tf.keras.layers.Dense(1, name=HEAD_LAYERS[1]),
    ]:
        x = layer(x)
    logits = tf.keras.layers.Add(name='plus_linear_score')([x, embedded[:, -1:]]) if linear else x
    model = tf.keras.Model(texts, logits)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=hp.learning_rate),
        loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
        # The outputs are logits, so the decision threshold is 0, not 0.5.
        metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0, name='accuracy')],
    )
    return model


def has_linear_score(embedding: hub.KerasLayer) -> bool:
    return hasattr(embedding.resolved_object, 'linear_weights')


def serving_signatures(model: tf.keras.Model, temperature: float = 1.0) -> dict:
    """Both signatures return {"probability": float32 [batch, 1]}, P(positive)
    = sigmoid(logit / temperature) (modules/calibration.py)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='text')])
    def serve_text(text):
        return {OUTPUT_KEY: tf.sigmoid(model(text, training=False) / temperature)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
    def serve_examples(examples):
        features = tf.io.parse_example(examples, {TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string, default_value='')})
        return serve_text(features[TEXT_FEATURE])

    return {EXAMPLES_SIGNATURE: serve_examples, TEXT_SIGNATURE: serve_text}


def export(model: tf.keras.Model, directory: str, temperature: float = 1.0) -> None:
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    # Serving needs no optimizer state (Adam's slots would triple the size).
    model.save(directory, save_format='tf', include_optimizer=False, signatures=serving_signatures(model, temperature))
