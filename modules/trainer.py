"""TFX Trainer module: trains the hub-layer model on ExampleGen's splits and
exports it for serving (see modules/model.py for the model and signatures).

With `self_training_confidence` set, the first model (the teacher) labels
the unlabeled reviews the SemiSupervisedTrainer hands over, and a fresh model
(the student) learns from the labelled reviews plus those the teacher
labelled confidently; for `self_training_rounds` rounds, each student
teaching the next. The last student is exported. With a module that has a
linear score, a linear n-gram model is fitted beside it and stacked with it
on the valid split (modules/linear_score.py)."""

import dataclasses
import json
import logging
import math
import os
from typing import List, Optional, Tuple

import numpy as np
import tensorflow as tf
from scipy import sparse
from tfx import v1 as tfx

from imdb_tfx.core import names
from imdb_tfx.core.names import (
    CALIBRATION_FILE,
    HISTORY_FILE,
    REFIT_FILE,
    SELF_TRAINING_FILE,
    TEACHER_HISTORY_FILE,
    UNLABELED_FILES_KEY,
    WARM_START_FILE,
)
from imdb_tfx.modules import calibration, linear_score, warm_start
from imdb_tfx.modules import model as model_lib
from imdb_tfx.modules.hparams import Hyperparameters

_PREDICT_BATCH = 2048


def _files(patterns: List[str]) -> List[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise ValueError(f'no input files match {patterns}')
    return files


def _records(patterns: List[str]) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(_files(patterns), compression_type='GZIP')


def _parse(serialized):
    features = tf.io.parse_example(
        serialized,
        {
            names.TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string),
            names.LABEL_FEATURE: tf.io.FixedLenFeature([], tf.int64),
        },
    )
    return features[names.TEXT_FEATURE], tf.cast(features[names.LABEL_FEATURE], tf.float32)


def labelled_examples(patterns: List[str]) -> tf.data.Dataset:
    """ExampleGen's gzip'd tf.Examples as unbatched (text, label) pairs."""
    return _records(patterns).batch(1024).map(_parse, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def batches(examples: tf.data.Dataset, batch_size: int, shuffle_seed=None) -> tf.data.Dataset:
    """Batches kept in memory across epochs (the IMDB splits are tens of MB)."""
    examples = examples.cache()
    if shuffle_seed is not None:
        examples = examples.shuffle(100_000, seed=shuffle_seed, reshuffle_each_iteration=True)
    return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def unlabeled_texts(patterns: List[str]) -> np.ndarray:
    """The `text` of every unlabeled example, as a numpy array of bytes."""
    texts = (
        _records(patterns)
        .batch(_PREDICT_BATCH)
        .map(
            lambda records: tf.io.parse_example(records, {names.TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string)})[
                names.TEXT_FEATURE
            ]
        )
    )
    return np.concatenate([batch.numpy() for batch in texts])


def pseudo_labelled(model: tf.keras.Model, texts: np.ndarray, confidence: float) -> Tuple[tf.data.Dataset, dict]:
    """(text, label) pairs for the texts the model labels with at least
    `confidence`, and a summary of what was kept."""
    logits = model.predict(tf.data.Dataset.from_tensor_slices(texts).batch(_PREDICT_BATCH), verbose=0)
    probability = tf.sigmoid(logits[:, 0]).numpy()
    kept = np.maximum(probability, 1 - probability) >= confidence
    labels = (probability[kept] >= 0.5).astype(np.float32)
    summary = {
        'pseudo_labelled': int(kept.sum()),
        'pseudo_positive_fraction': float(labels.mean()) if len(labels) else 0.0,
    }
    return tf.data.Dataset.from_tensor_slices((texts[kept], labels)), summary


def train(
    hp: Hyperparameters,
    train_examples: tf.data.Dataset,
    validation: Optional[tf.data.Dataset],
    log_dir: str,
    seed: int,
    warm: Optional[warm_start.ServingWeights] = None,
) -> Tuple[tf.keras.Model, dict]:
    """A fresh model (warm: starting from the serving model's weights) fitted on
    train_examples; with early stopping it keeps its best epoch on the
    validation split. Returns it and its per-epoch history."""
    tf.keras.utils.set_random_seed(seed)
    model = model_lib.build_model(dataclasses.replace(hp, seed=seed))
    if warm:
        warm.copy_to(model, hp.hub_handle)
    callbacks = [tf.keras.callbacks.TensorBoard(log_dir=log_dir)]
    training = batches(train_examples, hp.batch_size, shuffle_seed=seed)
    if hp.early_stopping_patience and validation is not None:
        callbacks.append(
            tf.keras.callbacks.EarlyStopping(
                'val_accuracy',
                mode='max',
                patience=patience(hp.early_stopping_patience, sum(1 for _ in training), hp.min_patience_steps),
                restore_best_weights=True,
            )
        )
    history = model.fit(
        training,
        validation_data=validation,
        epochs=hp.warm_start_epochs if warm else hp.epochs,
        verbose=2,
        callbacks=callbacks,
    )
    return model, {k: [float(v) for v in vs] for k, vs in history.history.items()}


def patience(epochs: int, steps_per_epoch: int, min_steps: int) -> int:
    """Early stopping's patience in epochs, at least min_steps optimizer
    steps: a small training set (one span of a few thousand reviews: 7 steps
    an epoch) still sits at the majority class after three epochs, and would
    stop there. The full archive's 35 steps an epoch keep the recipe's
    patience of 3 at the default 100 steps."""
    return max(epochs, math.ceil(min_steps / max(steps_per_epoch, 1)))


def chosen_epochs(hp: Hyperparameters, history: dict) -> int:
    """How many epochs the chosen model trained: up to its best validation
    accuracy with early stopping (which restores that epoch), else all."""
    if not hp.early_stopping_patience:
        return len(history['loss'])
    return int(np.argmax(history['val_accuracy'])) + 1


def fit_calibration(model: tf.keras.Model, validation: tf.data.Dataset) -> dict:
    """The temperature that calibrates the model's P(positive) on the valid
    split, with the split's log-loss and calibration error before and after."""
    logits, labels = [], []
    for texts, batch_labels in validation:
        logits.append(model(texts, training=False).numpy()[:, 0])
        labels.append(batch_labels.numpy())
    return calibration.summary(np.concatenate(logits), np.concatenate(labels))


def labelled_features(module, patterns: List[str]) -> Tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
    """The labelled examples' texts (bytes), their linear-score features
    (modules/linear_score.py) and their 0/1 labels."""
    texts, labels = [], []
    for batch_texts, batch_labels in labelled_examples(patterns).batch(_PREDICT_BATCH):
        texts.append(batch_texts.numpy())
        labels.append(batch_labels.numpy())
    texts = np.concatenate(texts)
    return texts, linear_score.feature_matrix(module, texts), np.concatenate(labels)


def fit_stack(model: tf.keras.Model, train: tuple, valid: tuple) -> Tuple[linear_score.Stack, dict]:
    """The linear model fitted on train, and the weights that stack it with
    MODEL's network (its linear score still zero) on valid; both
    labelled_features."""
    _, train_features, train_labels = train
    valid_texts, valid_features, valid_labels = valid
    linear = linear_score.fit(train_features, train_labels)
    network = model.predict(tf.data.Dataset.from_tensor_slices(valid_texts).batch(_PREDICT_BATCH), verbose=0)[:, 0]
    return linear_score.fit_stack(network, linear.scores(valid_features), valid_labels)


def _write_json(directory: str, name: str, content: dict) -> None:
    with tf.io.gfile.GFile(os.path.join(directory, name), 'w') as f:
        json.dump(content, f)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Fits on fn_args.train_files; every choice (early stopping, each
    self-training round's model) is made on fn_args.eval_files, the valid split."""
    config = dict(fn_args.custom_config or {})
    unlabeled_files: Optional[List[str]] = config.pop(UNLABELED_FILES_KEY, None)
    hp = Hyperparameters.from_custom_config(config)
    logging.info('Training with %s', hp)

    train_examples = labelled_examples(fn_args.train_files)
    valid_examples = labelled_examples(fn_args.eval_files)
    validation = batches(valid_examples, hp.batch_size)
    run_dir = fn_args.model_run_dir
    seed = hp.seed
    warm = warm_start.serving_weights(fn_args.base_model) if hp.warm_start else None
    if hp.warm_start and warm is None:
        logging.info('Warm start asked for, but no model is serving: a cold start')
    if not hp.self_trains:
        model, history = train(hp, train_examples, validation, run_dir, seed, warm)
    else:
        if not unlabeled_files:
            raise ValueError(
                'self_training_confidence is set but the Trainer got no unlabeled '
                'examples (SemiSupervisedTrainer(unlabeled_examples=...))'
            )
        model, teacher_history = train(hp, train_examples, validation, os.path.join(run_dir, 'teacher'), seed, warm)
        _write_json(run_dir, TEACHER_HISTORY_FILE, teacher_history)
        texts = unlabeled_texts(unlabeled_files)
        summary = {
            'confidence': hp.self_training_confidence,
            'unlabeled_reviews': int(len(texts)),
            'teacher_best_val_accuracy': max(teacher_history['val_accuracy']),
            'rounds': [],
        }
        for number in range(1, hp.self_training_rounds + 1):
            pseudo, labelled = pseudo_labelled(model, texts, hp.self_training_confidence)
            train_examples = labelled_examples(fn_args.train_files).concatenate(pseudo)
            seed = hp.seed + number
            model, history = train(hp, train_examples, validation, os.path.join(run_dir, f'round-{number}'), seed, warm)
            summary['rounds'].append({**labelled, 'best_val_accuracy': max(history['val_accuracy'])})
            logging.info('Self-training round %d: %s', number, summary['rounds'][-1])
        _write_json(run_dir, SELF_TRAINING_FILE, summary)
    # Per-epoch curves of the chosen model for reports, beside the TensorBoard logs.
    _write_json(run_dir, HISTORY_FILE, history)
    if warm:
        _write_json(run_dir, WARM_START_FILE, warm.copied)
    # Fitted on the chosen model while valid is still held out; a refit on
    # train + valid keeps the same temperature (or stack weights).
    temperature = 1.0
    stack = None
    if model_lib.has_linear_score(model.get_layer(model_lib.EMBEDDING_LAYER)):
        # Stacking weighs the network against the linear model and calibrates their sum.
        # The features depend on the module's vocabulary and hashes only: the refit's are the same.
        module = model.get_layer(model_lib.EMBEDDING_LAYER).resolved_object
        train_labelled = labelled_features(module, fn_args.train_files)
        valid_labelled = labelled_features(module, fn_args.eval_files)
        stack, fitted = fit_stack(model, train_labelled, valid_labelled)
        logging.info('Network and linear score stacked on valid: %s', fitted)
        _write_json(run_dir, CALIBRATION_FILE, fitted)
    elif hp.calibrate:
        fitted = fit_calibration(model, validation)
        temperature = fitted['temperature']
        logging.info('Calibration on valid: %s', fitted)
        _write_json(run_dir, CALIBRATION_FILE, fitted)

    if hp.refit:
        epochs = chosen_epochs(hp, history)
        logging.info('Refitting on train + valid for %d epochs', epochs)
        refit_hp = dataclasses.replace(hp, epochs=epochs, warm_start_epochs=epochs, early_stopping_patience=0)
        model, refit_history = train(
            refit_hp, train_examples.concatenate(valid_examples), None, os.path.join(run_dir, 'refit'), seed, warm
        )
        _write_json(run_dir, REFIT_FILE, {'epochs': epochs, 'final_accuracy': refit_history['accuracy'][-1]})
    if stack:
        # The exported linear model learns from what the exported network did.
        _, features, labels = train_labelled
        if hp.refit:
            features = sparse.vstack([features, valid_labelled[1]]).tocsr()
            labels = np.concatenate([labels, valid_labelled[2]])
        linear = linear_score.fit(features, labels)
        module = model.get_layer(model_lib.EMBEDDING_LAYER).resolved_object  # the refit's own
        linear_score.install(model, module, linear, stack, model_lib.HEAD_LAYERS[-1])
    model_lib.export(model, fn_args.serving_model_dir, temperature)
