"""The Trainer module on real reviews: it learns, logs, and exports a model
whose two signatures agree."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from conftest import sample_texts
from modules import model as model_lib
from modules import trainer
from modules.hparams import Hyperparameters


@pytest.fixture(scope='module')
def trained(tmp_path_factory, prepared_sample, tiny_embedding):
    """run_fn on the sample: shards 0-2 train, shard 3 evaluates."""
    shards = sorted(glob.glob(os.path.join(prepared_sample, 'train', '*')))
    out = tmp_path_factory.mktemp('trainer')
    fn_args = tfx.components.FnArgs(
        train_files=shards[:-1], eval_files=shards[-1:],
        serving_model_dir=str(out / 'serving'), model_run_dir=str(out / 'run'),
        custom_config=Hyperparameters(hub_handle=tiny_embedding, epochs=8, batch_size=64,
                                      learning_rate=0.01).to_custom_config())
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
    serialized = [tf.train.Example(features=tf.train.Features(feature={
        'text': tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode()]))}
    )).SerializeToString() for t in texts]

    loaded = tf.saved_model.load(trained.serving_model_dir)
    assert set(loaded.signatures) == {model_lib.EXAMPLES_SIGNATURE, model_lib.TEXT_SIGNATURE}
    by_text = loaded.signatures[model_lib.TEXT_SIGNATURE](text=tf.constant(texts))
    by_example = loaded.signatures[model_lib.EXAMPLES_SIGNATURE](examples=tf.constant(serialized))

    for outputs in (by_text, by_example):
        assert set(outputs) == {model_lib.OUTPUT_KEY}
        probability = outputs[model_lib.OUTPUT_KEY].numpy()
        assert probability.shape == (len(texts), 1) and probability.dtype == np.float32
        assert np.all((probability >= 0) & (probability <= 1))
    np.testing.assert_allclose(by_text[model_lib.OUTPUT_KEY], by_example[model_lib.OUTPUT_KEY],
                               atol=1e-6)


def test_hyperparameters_round_trip_and_reject_unknown_keys():
    hp = Hyperparameters(hub_handle='/m', epochs=3)
    assert Hyperparameters.from_custom_config(hp.to_custom_config()) == hp
    with pytest.raises(ValueError, match='epoch'):
        Hyperparameters.from_custom_config({'epoch': 3})
    with pytest.raises(ValueError):
        Hyperparameters(epochs=0)
