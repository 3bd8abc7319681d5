"""Resolving a run's inputs: the split must be one the data can make."""

import json
import os

import pytest

from imdb_tfx import inputs
from imdb_tfx.core.errors import UserInputError


def prepared(tmp_path, splits) -> str:
    (tmp_path / 'manifest.json').write_text(json.dumps({'format_version': 1, 'splits': splits}))
    return str(tmp_path)


def test_movie_split_needs_movie_ids(tmp_path):
    tfds_like = prepared(tmp_path, {'train': {'features': {'text': 'bytes', 'label': 'int64'}}})
    with pytest.raises(UserInputError, match='no movie_id.*--split random'):
        inputs.check_split(tfds_like, 'movie')
    inputs.check_split(tfds_like, 'random')


def test_source_split_needs_a_test_split(prepared_sample):
    inputs.check_split(prepared_sample, 'movie')
    with pytest.raises(UserInputError, match='no test split'):
        inputs.check_split(prepared_sample, 'source')


def test_source_split_needs_several_train_shards(tmp_path):
    one_shard = {'files': ['train/data-00000-of-00001.tfrecord.gz'], 'features': {'text': 'bytes'}}
    data = prepared(tmp_path, {'train': one_shard, 'test': one_shard})
    with pytest.raises(UserInputError, match='one train shard'):
        inputs.check_split(data, 'source')


def test_self_training_needs_unlabeled_reviews(tmp_path, prepared_sample):
    inputs.check_unlabeled(prepared_sample)  # 100 unlabeled reviews
    labelled_only = prepared(tmp_path, {'train': {'examples': 10, 'features': {'text': 'bytes'}}})
    with pytest.raises(UserInputError, match='no unlabeled reviews.*--self-training-confidence 0'):
        inputs.check_unlabeled(labelled_only)


def test_run_refuses_bad_self_training_before_any_work(tmp_path):
    from conftest import imdb_tfx

    result = imdb_tfx('run', '--home', str(tmp_path / 'home'), '--self-training-confidence', '1.5')
    assert result.returncode == 2
    assert 'self_training_confidence must be 0 (off) or in [0.5, 1)' in result.stderr
    assert not os.path.exists(tmp_path / 'home' / 'data')  # nothing prepared or built
