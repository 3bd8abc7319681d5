"""The release gate end to end (LocalDagRunner, the committed sample of real
reviews): bad data stops the run before training, and nothing reaches serving
that should not."""

import json
import os
import shutil

import pytest
import tensorflow as tf

from conftest import imdb_tfx

from imdb_tfx import run_info, serving
from imdb_tfx.home import Home
from pipeline import configs


def rewrite(prepared: str, output: str, change) -> str:
    """A copy of prepared data with change(example) applied to every train example."""
    shutil.copytree(prepared, output)
    for path in tf.io.gfile.glob(os.path.join(output, 'train', '*')):
        records = [tf.train.Example.FromString(r.numpy())
                   for r in tf.data.TFRecordDataset(path, compression_type='GZIP')]
        with tf.io.TFRecordWriter(path, options='GZIP') as writer:
            for i, example in enumerate(records):
                change(i, example)
                writer.write(example.SerializeToString())
    return output


def label_two(i, example):
    if i % 50 == 0:
        example.features.feature['label'].int64_list.value[:] = [2]


def no_text(i, example):
    if i == 0:
        del example.features.feature['text']


def label_as_bytes(i, example):
    label = example.features.feature['label'].int64_list.value[0]
    example.features.feature['label'].Clear()
    example.features.feature['label'].bytes_list.value.append(str(label).encode())


@pytest.fixture(scope='module')
def served_home(tmp_path_factory, prepared_sample, tiny_embedding):
    """A home with one model pushed from good data."""
    home = str(tmp_path_factory.mktemp('gate-home'))
    result = imdb_tfx('run', '--data', prepared_sample, '--home', home, '--hub', tiny_embedding,
                      '--epochs', '8', '--batch-size', '64', '--learning-rate', '0.01',
                      '--min-accuracy', '0.6')
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(serving.versions(Home.at(home).serving_dir)) == 1
    return Home.at(home)


@pytest.mark.parametrize('change, feature, kind', [
    (label_two, 'label', 'INT_TYPE_BIG_INT'),
    (no_text, 'text', 'FEATURE_TYPE_LOW_FRACTION_PRESENT'),
    (label_as_bytes, 'label', 'UNEXPECTED_DATA_TYPE'),
])
def test_anomalous_data_stops_the_run_at_the_data_gate(
        served_home, prepared_sample, tiny_embedding, tmp_path, change, feature, kind):
    bad = rewrite(prepared_sample, str(tmp_path / 'bad'), change)
    before = serving.versions(served_home.serving_dir)

    result = imdb_tfx('run', '--data', bad, '--home', served_home.root, '--hub', tiny_embedding,
                      '--epochs', '8', '--batch-size', '64', '--min-accuracy', '0.6')

    assert result.returncode == 1
    assert 'FAILED at DataGate' in result.stdout
    assert f'{feature}: {kind}' in result.stdout + result.stderr
    run = run_info.load_run(run_info.open_store(served_home.metadata_path), configs.PIPELINE_NAME)
    assert run.nodes['DataGate'].state == 'FAILED'
    assert 'Trainer' not in run.nodes and 'Pusher' not in run.nodes
    assert serving.versions(served_home.serving_dir) == before
