"""Resolving a run's inputs: the split must be one the data can make."""

import json

import pytest

from imdb_tfx import inputs
from imdb_tfx.errors import UserInputError


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
