"""TFX Trainer module: trains the hub-layer model on ExampleGen's splits and
exports it for serving (see modules/model.py for the model and signatures)."""

import json
import logging
import os
from typing import List

import tensorflow as tf
from tfx import v1 as tfx

from modules import model as model_lib
from modules.hparams import Hyperparameters

HISTORY_FILE = 'history.json'


def _files(patterns: List[str]) -> List[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise ValueError(f'no input files match {patterns}')
    return files


def _parse(serialized):
    features = tf.io.parse_example(serialized, {
        model_lib.TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string),
        model_lib.LABEL_FEATURE: tf.io.FixedLenFeature([], tf.int64),
    })
    return features[model_lib.TEXT_FEATURE], tf.cast(features[model_lib.LABEL_FEATURE], tf.float32)


def input_dataset(patterns: List[str], batch_size: int, shuffle_seed=None) -> tf.data.Dataset:
    """ExampleGen's gzip'd tf.Examples as (text, label) batches, kept in memory
    across epochs (the IMDB splits are tens of MB)."""
    dataset = tf.data.TFRecordDataset(_files(patterns), compression_type='GZIP').cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(50_000, seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).map(_parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    hp = Hyperparameters.from_custom_config(fn_args.custom_config or {})
    logging.info('Training with %s', hp)
    tf.keras.utils.set_random_seed(hp.seed)

    train = input_dataset(fn_args.train_files, hp.batch_size, shuffle_seed=hp.seed)
    evaluation = input_dataset(fn_args.eval_files, hp.batch_size)
    model = model_lib.build_model(hp)
    callbacks = [tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)]
    if hp.early_stopping_patience:
        callbacks.append(tf.keras.callbacks.EarlyStopping(
            'val_accuracy', mode='max', patience=hp.early_stopping_patience,
            restore_best_weights=True))
    history = model.fit(train, validation_data=evaluation, epochs=hp.epochs, verbose=2,
                        callbacks=callbacks)

    # Per-epoch curves for reports, beside the TensorBoard logs.
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), 'w') as f:
        json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)
    model_lib.export(model, fn_args.serving_model_dir)
