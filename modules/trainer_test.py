"""The Trainer module on real reviews: it learns, logs, and exports a model
whose two signatures agree."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
from tfx import v1 as tfx

from conftest import sample_texts
from imdb_tfx.core import names
from imdb_tfx.core.names import UNLABELED_FILES_KEY
from imdb_tfx.modules import trainer
from imdb_tfx.modules.hparams import Hyperparameters


def sample_fn_args(prepared_sample: str, out, hp: Hyperparameters, **config) -> tfx.components.FnArgs:
    """run_fn's arguments on the sample: shards 0-2 train, shard 3 is valid."""
    shards = sorted(glob.glob(os.path.join(prepared_sample, 'train', '*')))
    return tfx.components.FnArgs(
        train_files=shards[:-1],
        eval_files=shards[-1:],
        serving_model_dir=str(out / 'serving'),
        model_run_dir=str(out / 'run'),
        custom_config={**hp.to_custom_config(), **config},
    )


@pytest.fixture(scope='module')
def trained(tmp_path_factory, prepared_sample, tiny_embedding):
    """run_fn on the sample."""
    fn_args = sample_fn_args(
        prepared_sample,
        tmp_path_factory.mktemp('trainer'),
        Hyperparameters(hub_handle=tiny_embedding, epochs=8, batch_size=64, learning_rate=0.01, calibrate=True),
    )
    trainer.run_fn(fn_args)
    return fn_args


def test_history_and_tensorboard_logs_are_written(trained):
    with open(os.path.join(trained.model_run_dir, trainer.HISTORY_FILE)) as f:
        history = json.load(f)
    assert set(history) >= {'loss', 'accuracy', 'val_loss', 'val_accuracy'}
    assert all(len(values) == 8 for values in history.values())
    assert history['loss'][-1] < history['loss'][0]
    assert glob.glob(os.path.join(trained.model_run_dir, 'train', 'events.out.tfevents.*'))
    assert glob.glob(os.path.join(trained.model_run_dir, 'validation', 'events.out.tfevents.*'))


def test_the_model_learns(trained):
    history = json.load(open(os.path.join(trained.model_run_dir, trainer.HISTORY_FILE)))
    assert history['accuracy'][-1] > 0.9  # fits its training reviews
    assert history['val_accuracy'][-1] > 0.6  # and generalises above chance


def test_both_signatures_return_agreeing_probabilities(trained, prepared_sample):
    texts, _ = sample_texts(prepared_sample)
    texts = texts[:50] + ['', 'Ünïcödé — 映画は最高でした!', 'great ' * 20_000]
    serialized = [
        tf.train.Example(
            features=tf.train.Features(
                feature={'text': tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode()]))}
            )
        ).SerializeToString()
        for t in texts
    ]

    loaded = tf.saved_model.load(trained.serving_model_dir)
    assert set(loaded.signatures) == {names.EXAMPLES_SIGNATURE, names.TEXT_SIGNATURE}
    by_text = loaded.signatures[names.TEXT_SIGNATURE](text=tf.constant(texts))
    by_example = loaded.signatures[names.EXAMPLES_SIGNATURE](examples=tf.constant(serialized))

    for outputs in (by_text, by_example):
        assert set(outputs) == {names.OUTPUT_KEY}
        probability = outputs[names.OUTPUT_KEY].numpy()
        assert probability.shape == (len(texts), 1) and probability.dtype == np.float32
        assert np.all((probability >= 0) & (probability <= 1))
    np.testing.assert_allclose(by_text[names.OUTPUT_KEY], by_example[names.OUTPUT_KEY], atol=1e-6)


def test_the_exported_probability_is_calibrated_by_the_temperature_fitted_on_valid(trained, prepared_sample):
    with open(os.path.join(trained.model_run_dir, names.CALIBRATION_FILE)) as f:
        fitted = json.load(f)
    assert fitted['examples'] == sum(1 for _ in tf.data.TFRecordDataset(trained.eval_files, compression_type='GZIP'))
    assert fitted['temperature'] > 0 and fitted['nll_after'] <= fitted['nll_before']
    texts = tf.constant(sample_texts(prepared_sample)[0][:20])
    keras_model = tf.keras.models.load_model(trained.serving_model_dir, custom_objects={'KerasLayer': hub.KerasLayer})
    logits = keras_model(texts).numpy()
    served = tf.saved_model.load(trained.serving_model_dir).signatures[names.TEXT_SIGNATURE](text=texts)
    np.testing.assert_allclose(served[names.OUTPUT_KEY], tf.sigmoid(logits / fitted['temperature']), atol=1e-6)


def test_hyperparameters_round_trip_and_reject_unknown_keys():
    hp = Hyperparameters(hub_handle='/m', epochs=3)
    assert Hyperparameters.from_custom_config(hp.to_custom_config()) == hp
    with pytest.raises(ValueError, match='epoch'):
        Hyperparameters.from_custom_config({'epoch': 3})
    with pytest.raises(ValueError):
        Hyperparameters(epochs=0)
    for confidence in (0.3, 1.0):
        with pytest.raises(ValueError, match='self_training_confidence'):
            Hyperparameters(self_training_confidence=confidence)
    with pytest.raises(ValueError, match='self_training_rounds'):
        Hyperparameters(self_training_confidence=0.9, self_training_rounds=0)


def _rule_model():
    """Logit +3 for texts with 'good', -3 with 'bad', 0 otherwise."""

    def logits(texts):
        good = tf.cast(tf.strings.regex_full_match(texts, '.*good.*'), tf.float32)
        bad = tf.cast(tf.strings.regex_full_match(texts, '.*bad.*'), tf.float32)
        return 3.0 * (good - bad)[:, None]

    return tf.keras.Sequential([tf.keras.layers.Lambda(logits, input_shape=[], dtype=tf.string)])


def test_pseudo_labels_keep_only_confident_reviews():
    texts = np.array([b'good film', b'bad film', b'a film', b'good and bad'], dtype=object)
    texts = tf.data.Dataset.from_tensor_slices(texts)
    pseudo, summary = trainer.pseudo_labelled(_rule_model(), texts, confidence=0.9)  # sigmoid(3) = 0.95
    assert [(text.numpy(), label.numpy()) for text, label in pseudo] == [(b'good film', 1.0), (b'bad film', 0.0)]
    assert summary == {'unlabeled_reviews': 4, 'pseudo_labelled': 2, 'pseudo_positive_fraction': 0.5}
    _, summary = trainer.pseudo_labelled(_rule_model(), texts, confidence=0.5)
    assert summary['pseudo_labelled'] == 4


def self_training_run(prepared_sample: str, out, hub_handle: str, **hyperparameters) -> tfx.components.FnArgs:
    """run_fn self-training at confidence 0.5 on the sample's 100 unlabeled reviews."""
    hp = Hyperparameters(
        hub_handle=hub_handle, batch_size=64, learning_rate=0.01, self_training_confidence=0.5, **hyperparameters
    )
    fn_args = sample_fn_args(
        prepared_sample, out, hp, **{UNLABELED_FILES_KEY: [os.path.join(prepared_sample, 'unsup', '*')]}
    )
    trainer.run_fn(fn_args)
    return fn_args


def linear_module(folder, tiny_vectors) -> str:
    """A module with a linear score, built from the tiny vectors in FOLDER."""
    from imdb_tfx.modules.text_embedding import build_text_embedding

    module = str(folder / 'module')
    build_text_embedding(*tiny_vectors, module, bigram_buckets=64, combiner='mean', linear_buckets=4096)
    return module


@pytest.fixture(scope='module')
def self_trained(tmp_path_factory, prepared_sample, tiny_embedding):
    """run_fn with two rounds of self-training on the sample's 100 unlabeled reviews."""
    out = tmp_path_factory.mktemp('self_trained')
    return self_training_run(prepared_sample, out, tiny_embedding, epochs=4, self_training_rounds=2)


def test_self_training_labels_the_unlabeled_reviews_and_exports_the_student(self_trained):
    run_dir = self_trained.model_run_dir
    summary = json.load(open(os.path.join(run_dir, trainer.SELF_TRAINING_FILE)))
    assert summary['unlabeled_reviews'] == 100 and summary['confidence'] == 0.5
    # Confidence 0.5 keeps every review the teacher labels, in every round.
    assert [r['pseudo_labelled'] for r in summary['rounds']] == [100, 100]
    teacher = json.load(open(os.path.join(run_dir, trainer.TEACHER_HISTORY_FILE)))
    exported = json.load(open(os.path.join(run_dir, trainer.HISTORY_FILE)))
    assert summary['teacher_best_val_accuracy'] == max(teacher['val_accuracy'])
    assert summary['rounds'][-1]['best_val_accuracy'] == max(exported['val_accuracy'])
    assert len(teacher['loss']) == len(exported['loss']) == 4
    for model_dir in ('teacher', 'round-1', 'round-2'):
        assert glob.glob(os.path.join(run_dir, model_dir, 'train', 'events.out.tfevents.*'))
    assert tf.saved_model.load(self_trained.serving_model_dir).signatures[names.TEXT_SIGNATURE]


def test_self_training_without_unlabeled_examples_is_refused(tmp_path, prepared_sample, tiny_embedding):
    hp = Hyperparameters(hub_handle=tiny_embedding, epochs=1, self_training_confidence=0.9)
    fn_args = sample_fn_args(prepared_sample, tmp_path, hp)
    with pytest.raises(ValueError, match='no unlabeled examples'):
        trainer.run_fn(fn_args)
    assert not os.path.exists(fn_args.serving_model_dir)


def test_patience_is_at_least_a_hundred_steps_so_small_data_leaves_the_majority_class():
    assert trainer.patience(3, 35, 100) == 3  # the full archive's train split at batch 512: the recipe's patience
    assert trainer.patience(3, 7, 100) == 15  # one span of 3,500 reviews
    assert trainer.patience(3, 0, 100) == 100
    assert trainer.patience(3, 7, 0) == 3


@pytest.fixture(scope='module')
def stacked(tmp_path_factory, prepared_sample, tiny_vectors):
    """run_fn with a module that has a linear score, refitted on train + valid."""
    out = tmp_path_factory.mktemp('stacked')
    hp = Hyperparameters(
        hub_handle=linear_module(out, tiny_vectors),
        epochs=4,
        batch_size=64,
        learning_rate=0.01,
        refit=True,
        calibrate=True,
    )
    fn_args = sample_fn_args(prepared_sample, out, hp)
    trainer.run_fn(fn_args)
    return fn_args


def test_the_linear_score_is_fitted_stacked_on_valid_and_exported(stacked, prepared_sample):
    fitted = json.load(open(os.path.join(stacked.model_run_dir, names.CALIBRATION_FILE)))
    assert fitted['method'] == 'stack'
    assert fitted['examples'] == sum(1 for _ in tf.data.TFRecordDataset(stacked.eval_files, compression_type='GZIP'))
    assert fitted['linear_weight'] > 0 and fitted['nll_after'] <= fitted['nll_before']
    assert fitted['linear_accuracy'] > 0.6  # the n-gram model alone learns from a few hundred reviews
    keras_model = tf.keras.models.load_model(stacked.serving_model_dir, custom_objects={'KerasLayer': hub.KerasLayer})
    module = keras_model.get_layer('embedding').resolved_object
    assert np.count_nonzero(module.linear_weights.numpy()) > 1000
    texts = tf.constant(sample_texts(prepared_sample)[0][:20])
    served = tf.saved_model.load(stacked.serving_model_dir).signatures[names.TEXT_SIGNATURE](text=texts)
    # The stack is folded into the model: no temperature on top.
    np.testing.assert_allclose(served[names.OUTPUT_KEY], tf.sigmoid(keras_model(texts)), atol=1e-6)


def test_the_stack_can_teach_the_students(tmp_path, prepared_sample, tiny_vectors):
    """With self_training_teacher 'stack', each round's teacher is its network
    stacked with the linear model on valid; the student starts without it."""
    module = linear_module(tmp_path, tiny_vectors)
    fn_args = self_training_run(prepared_sample, tmp_path, module, epochs=2, self_training_teacher='stack')
    summary = json.load(open(os.path.join(fn_args.model_run_dir, trainer.SELF_TRAINING_FILE)))
    assert summary['teacher'] == 'stack' and summary['rounds'][0]['pseudo_labelled'] == 100
    assert 0.5 < summary['rounds'][0]['teacher_valid_accuracy'] <= 1
    fitted = json.load(open(os.path.join(fn_args.model_run_dir, names.CALIBRATION_FILE)))
    assert fitted['method'] == 'stack'  # the exported student is stacked on valid, as ever
    with pytest.raises(ValueError, match='self_training_teacher'):
        Hyperparameters(self_training_teacher='linear')
