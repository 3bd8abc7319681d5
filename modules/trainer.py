"""TFX Trainer module: trains the hub-layer model on ExampleGen's splits and
exports it for serving (see modules/model.py for the model and signatures).

run_fn's steps, every choice made on the valid split:
- train a first model on the labelled reviews.
- with a module that has a linear score, fit the linear n-gram models once
  (modules/linear_score.py): the one stacked with a network on valid, and
  the one exported.
- with `self_training_confidence`, self-train: the first model (the teacher;
  with `self_training_teacher` 'stack', its network stacked with the linear
  model) labels the unlabeled reviews the SemiSupervisedTrainer hands over,
  and a fresh model (the student) learns from the labelled reviews plus
  those the teacher labelled confidently; for `self_training_rounds` rounds,
  each student teaching the next. The last student is the chosen model.
- calibrate: with a linear score, the chosen network is stacked with it;
  otherwise, with `calibrate`, a temperature (modules/calibration.py).
- with `refit`, a fresh model fitted on train + valid takes the chosen one's
  place.
- export, with the stack folded into the model or the temperature in its
  signatures.
"""

import dataclasses
import json
import logging
import math
import os
from typing import List, Optional, Tuple

import numpy as np
import tensorflow as tf
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
from imdb_tfx.modules import calibration, linear_score, progress, warm_start
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
    """Batches kept in memory across epochs: the IMDB splits fit easily, and
    reading and parsing them again every epoch would be wasted work."""
    examples = examples.cache()
    if shuffle_seed is not None:
        examples = examples.shuffle(100_000, seed=shuffle_seed, reshuffle_each_iteration=True)
    return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def unlabeled_texts(patterns: List[str]) -> tf.data.Dataset:
    """The `text` of every unlabeled example, in the same order on every
    pass. Read from the files on each pass, never held: there are more
    unlabeled reviews than labelled ones."""
    return (
        _records(patterns)
        .batch(_PREDICT_BATCH)
        .map(
            lambda records: tf.io.parse_example(records, {names.TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string)})[
                names.TEXT_FEATURE
            ]
        )
        .unbatch()
    )


def pseudo_labelled(model: tf.keras.Model, texts: tf.data.Dataset, confidence: float) -> Tuple[tf.data.Dataset, dict]:
    """(text, label) pairs for the TEXTS (a dataset giving them in the same
    order on every pass) that the model labels with at least `confidence`,
    and a summary of what was kept. Only the decisions are held; the texts
    are read again when the pairs are."""
    logits = model.predict(texts.batch(_PREDICT_BATCH), verbose=0)
    probability = tf.sigmoid(logits[:, 0]).numpy()
    kept = np.maximum(probability, 1 - probability) >= confidence
    labels = (probability >= 0.5).astype(np.float32)
    summary = {
        'unlabeled_reviews': len(probability),
        'pseudo_labelled': int(kept.sum()),
        'pseudo_positive_fraction': float(labels[kept].mean()) if kept.any() else 0.0,
    }
    decisions = tf.data.Dataset.from_tensor_slices((kept, labels))
    pairs = tf.data.Dataset.zip((texts, decisions)).filter(lambda text, decision: decision[0])
    return pairs.map(lambda text, decision: (text, decision[1])), summary


def train(
    hp: Hyperparameters,
    train_examples: tf.data.Dataset,
    validation: Optional[tf.data.Dataset],
    log_dir: str,
    seed: int,
    warm: Optional[warm_start.ServingWeights] = None,
    phase: Optional[progress.EpochProgress] = None,
) -> Tuple[tf.keras.Model, dict]:
    """A fresh model (warm: starting from the serving model's weights) fitted on
    train_examples; with early stopping it keeps its best epoch on the
    validation split. phase reports its epochs. Returns the model and its
    per-epoch history."""
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
        if phase is not None:
            phase.early_stopping = callbacks[-1]
    if phase is not None:
        callbacks.append(phase)
    history = model.fit(
        training,
        validation_data=validation,
        epochs=hp.warm_start_epochs if warm else hp.epochs,
        verbose=2,
        callbacks=callbacks,
    )
    return model, {k: [float(v) for v in vs] for k, vs in history.history.items()}


def patience(epochs: int, steps_per_epoch: int, min_steps: int) -> int:
    """Early stopping's patience in epochs, stretched to at least min_steps
    optimizer steps: a small training set (one span) has few steps an epoch,
    still predicts the majority class after a few epochs, and would stop
    there. A large training set keeps the patience it was given."""
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


def labelled_features(module, patterns: List[str]) -> Tuple[linear_score.Features, np.ndarray]:
    """The labelled examples' linear-score features (modules/linear_score.py)
    and 0/1 labels, streamed from the files: no review text is held."""
    labels = []

    def texts():
        for batch_texts, batch_labels in labelled_examples(patterns).batch(_PREDICT_BATCH):
            labels.append(batch_labels.numpy())
            yield batch_texts

    features = linear_score.features_of(module, texts())
    return features, np.concatenate(labels)


def _write_json(directory: str, name: str, content: dict) -> None:
    with tf.io.gfile.GFile(os.path.join(directory, name), 'w') as f:
        json.dump(content, f)


@dataclasses.dataclass(frozen=True)
class _Run:
    """What every step of run_fn reads: the hyperparameters, the folders and
    the data, each read once."""

    hp: Hyperparameters
    fn_args: tfx.components.FnArgs
    unlabeled_files: Optional[List[str]]
    train_examples: tf.data.Dataset  # the labelled reviews only
    valid_examples: tf.data.Dataset
    validation: tf.data.Dataset  # valid_examples batched, shared by every training that chooses
    warm: Optional[warm_start.ServingWeights]

    @property
    def run_dir(self) -> str:
        return self.fn_args.model_run_dir

    @property
    def trainings(self) -> int:
        """How many models the run trains: the first, a student a
        self-training round, the refit."""
        return 1 + (self.hp.self_training_rounds if self.hp.self_trains else 0) + int(self.hp.refit)

    def phase(self, name: str, index: int) -> progress.EpochProgress:
        """The progress of training number INDEX of the run's."""
        return progress.EpochProgress(name, index, self.trainings)


@dataclasses.dataclass(frozen=True)
class _Chosen:
    """The model chosen on valid, with what a refit repeats: the examples it
    trained on (pseudo-labelled reviews included) and its seed."""

    model: tf.keras.Model
    history: dict
    train_examples: tf.data.Dataset
    seed: int


@dataclasses.dataclass(frozen=True)
class _Calibration:
    """How the exported P(positive) is calibrated: by a temperature on the
    logit, or by a stack of the network and the linear score that is folded
    into the model with the exported linear model."""

    temperature: float = 1.0
    stack: Optional[linear_score.Stack] = None
    linear: Optional[linear_score.LinearModel] = None


@dataclasses.dataclass(frozen=True)
class LinearModels:
    """The linear n-gram models, fitted once: the features depend on the
    module's vocabulary and hashes alone, which every model of the run
    shares. `on_train` is stacked with a network on valid (its scores there
    kept); `exported` is fitted on the labelled reviews the exported network
    learns from (train, and valid with a refit)."""

    on_train: linear_score.LinearModel
    valid_scores: np.ndarray
    valid_labels: np.ndarray
    exported: linear_score.LinearModel


def _start(fn_args: tfx.components.FnArgs) -> _Run:
    """Reads the hyperparameters and the splits, and the serving model's
    weights when asked to warm-start (a cold start when nothing serves)."""
    config = dict(fn_args.custom_config or {})
    unlabeled_files: Optional[List[str]] = config.pop(UNLABELED_FILES_KEY, None)
    hp = Hyperparameters.from_custom_config(config)
    if hp.self_trains and not unlabeled_files:
        raise ValueError(
            'self_training_confidence is set but the Trainer got no unlabeled '
            'examples (SemiSupervisedTrainer(unlabeled_examples=...))'
        )
    logging.info('Training with %s', hp)
    train_examples = labelled_examples(fn_args.train_files)
    valid_examples = labelled_examples(fn_args.eval_files)
    validation = batches(valid_examples, hp.batch_size)
    warm = warm_start.serving_weights(fn_args.base_model) if hp.warm_start else None
    if hp.warm_start and warm is None:
        logging.info('Warm start asked for, but no model is serving: a cold start')
    return _Run(hp, fn_args, unlabeled_files, train_examples, valid_examples, validation, warm)


def _train_on_labelled(run: _Run, log_dir: str) -> _Chosen:
    """A model trained on the labelled reviews with the run's seed."""
    phase = run.phase('first model', 1)
    model, history = train(run.hp, run.train_examples, run.validation, log_dir, run.hp.seed, run.warm, phase)
    return _Chosen(model, history, run.train_examples, run.hp.seed)


def _fit_linear(run: _Run, model: tf.keras.Model) -> Optional[LinearModels]:
    """The linear models of MODEL's module if it has a linear score (else None)."""
    layer = model.get_layer(model_lib.EMBEDDING_LAYER)
    if not model_lib.has_linear_score(layer):
        return None
    return fit_linear_models(layer.resolved_object, run.fn_args.train_files, run.fn_args.eval_files, run.hp.refit)


def fit_linear_models(module, train_files: List[str], eval_files: List[str], refit: bool) -> LinearModels:
    """The linear models over MODULE's features of the labelled reviews in
    TRAIN_FILES, scored on EVAL_FILES (valid), and with REFIT also fitted on
    both. Fitted before any training that follows: their features, the
    Trainer's largest objects, are freed on return."""
    train_features, train_labels = labelled_features(module, train_files)
    valid_features, valid_labels = labelled_features(module, eval_files)
    on_train = linear_score.fit(train_features, train_labels)
    exported = on_train
    valid_scores = on_train.scores(valid_features)
    if refit:
        features = linear_score.stack_features([train_features, valid_features])
        del train_features, valid_features  # before the fit, which needs twice as much again for its values
        exported = linear_score.fit(features, np.concatenate([train_labels, valid_labels]))
    return LinearModels(on_train, valid_scores, valid_labels, exported)


def _stack_on_valid(run: _Run, model: tf.keras.Model, linear: LinearModels) -> Tuple[linear_score.Stack, dict]:
    """The stack of MODEL's network (its linear score still zero) and the
    linear model on train, fitted on valid, with its summary there."""
    texts = run.valid_examples.map(lambda text, label: text).batch(_PREDICT_BATCH)
    network = model.predict(texts, verbose=0)[:, 0]
    return linear_score.fit_stack(network, linear.valid_scores, linear.valid_labels)


def _prepare_teacher(run: _Run, model: tf.keras.Model, linear: Optional[LinearModels]) -> dict:
    """MODEL teaches with its network alone, or with `self_training_teacher`
    'stack' (and a linear score) as its stack with the linear model, folded
    into MODEL, which is neither trained nor exported afterwards. Returns
    what the round's summary says of the teacher."""
    if linear is None or run.hp.self_training_teacher != 'stack':
        return {}
    stack, fitted = _stack_on_valid(run, model, linear)
    module = model.get_layer(model_lib.EMBEDDING_LAYER).resolved_object
    linear_score.install(model, module, linear.on_train, stack, model_lib.HEAD_LAYERS[-1])
    return {'teacher_valid_accuracy': fitted['stacked_accuracy']}


def _self_train(run: _Run, first: _Chosen, linear: Optional[LinearModels]) -> _Chosen:
    """The first model teaches a student, trained on the labelled reviews
    and those it labels confidently; one student a round, each taught by the
    model before it; the last student is chosen. Writes the first model's
    history and a summary of every round, for reports."""
    _write_json(run.run_dir, TEACHER_HISTORY_FILE, first.history)
    texts = unlabeled_texts(run.unlabeled_files)
    summary = {
        'confidence': run.hp.self_training_confidence,
        'teacher': 'stack' if linear and run.hp.self_training_teacher == 'stack' else 'network',
        'teacher_best_val_accuracy': max(first.history['val_accuracy']),
        'rounds': [],
    }
    chosen = first
    for number in range(1, run.hp.self_training_rounds + 1):
        taught_by = _prepare_teacher(run, chosen.model, linear)
        chosen, round_summary = _train_student(run, chosen.model, texts, number)
        round_summary |= taught_by
        summary['unlabeled_reviews'] = round_summary.pop('unlabeled_reviews')
        summary['rounds'].append(round_summary)
        logging.info('Self-training round %d: %s', number, round_summary)
    _write_json(run.run_dir, SELF_TRAINING_FILE, summary)
    return chosen


def _train_student(run: _Run, teacher: tf.keras.Model, texts: tf.data.Dataset, number: int) -> Tuple[_Chosen, dict]:
    """Round NUMBER of self-training: a fresh model trained on the labelled
    reviews plus the TEXTS the teacher labels confidently. Each round has its
    own seed, so a student does not start from its teacher's initial weights."""
    pseudo, labelled = pseudo_labelled(teacher, texts, run.hp.self_training_confidence)
    train_examples = run.train_examples.concatenate(pseudo)
    seed = run.hp.seed + number
    log_dir = os.path.join(run.run_dir, f'round-{number}')
    phase = run.phase(f'self-training round {number}', 1 + number)
    model, history = train(run.hp, train_examples, run.validation, log_dir, seed, run.warm, phase)
    round_summary = {**labelled, 'best_val_accuracy': max(history['val_accuracy'])}
    return _Chosen(model, history, train_examples, seed), round_summary


def _write_chosen(run: _Run, chosen: _Chosen) -> None:
    """The chosen model's per-epoch curves for reports, beside the TensorBoard
    logs, and what a warm start copied into it."""
    _write_json(run.run_dir, HISTORY_FILE, chosen.history)
    if run.warm:
        _write_json(run.run_dir, WARM_START_FILE, run.warm.copied)


def _calibrate(run: _Run, model: tf.keras.Model, linear: Optional[LinearModels]) -> _Calibration:
    """Fits the calibration on the chosen model while valid is still held
    out; a refit on train + valid keeps it. With a linear score, the network
    is stacked with it (the stack calibrates too); otherwise `calibrate`
    fits a temperature. Writes what was fitted and how it scores on valid."""
    if linear is not None:
        stack, fitted = _stack_on_valid(run, model, linear)
        calibrated = _Calibration(stack=stack, linear=linear.exported)
        logging.info('Network and linear score stacked on valid: %s', fitted)
    elif run.hp.calibrate:
        fitted = fit_calibration(model, run.validation)
        calibrated = _Calibration(temperature=fitted['temperature'])
        logging.info('Calibration on valid: %s', fitted)
    else:
        return _Calibration()
    _write_json(run.run_dir, CALIBRATION_FILE, fitted)
    return calibrated


def _refit(run: _Run, chosen: _Chosen) -> tf.keras.Model:
    """A fresh model fitted on the chosen one's training examples plus valid,
    for as many epochs as the chosen one kept and with its seed: valid has
    made every choice by now, so the exported model may learn from it too."""
    epochs = chosen_epochs(run.hp, chosen.history)
    logging.info('Refitting on train + valid for %d epochs', epochs)
    refit_hp = dataclasses.replace(run.hp, epochs=epochs, warm_start_epochs=epochs, early_stopping_patience=0)
    examples = chosen.train_examples.concatenate(run.valid_examples)
    phase = run.phase('refit on train + valid', run.trainings)
    model, history = train(refit_hp, examples, None, os.path.join(run.run_dir, 'refit'), chosen.seed, run.warm, phase)
    _write_json(run.run_dir, REFIT_FILE, {'epochs': epochs, 'final_accuracy': history['accuracy'][-1]})
    return model


def _install_linear_score(model: tf.keras.Model, calibrated: _Calibration) -> None:
    """Folds the exported linear model and the stack into MODEL, through
    MODEL's own module: a refit has its own, not the chosen model's."""
    module = model.get_layer(model_lib.EMBEDDING_LAYER).resolved_object
    linear_score.install(model, module, calibrated.linear, calibrated.stack, model_lib.HEAD_LAYERS[-1])


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains on fn_args.train_files and exports to fn_args.serving_model_dir.
    Every choice (early stopping, each self-training round's model, the
    calibration or stack) is made on fn_args.eval_files, the valid split."""
    run = _start(fn_args)
    first = _train_on_labelled(run, os.path.join(run.run_dir, 'teacher') if run.hp.self_trains else run.run_dir)
    linear = _fit_linear(run, first.model)
    chosen = _self_train(run, first, linear) if run.hp.self_trains else first
    _write_chosen(run, chosen)
    calibrated = _calibrate(run, chosen.model, linear)
    model = _refit(run, chosen) if run.hp.refit else chosen.model
    if calibrated.stack:
        _install_linear_score(model, calibrated)
    model_lib.export(model, fn_args.serving_model_dir, calibrated.temperature)
