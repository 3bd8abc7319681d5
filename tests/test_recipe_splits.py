"""The recipe-splits harness (benchmarks/recipe_splits.py): its splits keep
each movie on one side in the pipeline's proportions, and a run on the
committed sample scores every variant on every split."""

import collections
import dataclasses
import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from benchmarks import recipe_splits, scaling
from imdb_tfx.core import names
from imdb_tfx.pipeline import recipes


def _movie(record: bytes) -> bytes:
    return tf.train.Example.FromString(record).features.feature[names.MOVIE_FEATURE].bytes_list.value[0]


def test_each_salt_splits_by_movie_in_the_pipelines_proportions(prepared_sample):
    records = scaling.labelled_records(prepared_sample)
    by_salt = {salt: recipe_splits.split_records(records, salt) for salt in ('a', 'b')}
    for splits in by_salt.values():
        assert sum(len(rs) for rs in splits.values()) == len(records)
        sides = collections.defaultdict(set)
        for split, rs in splits.items():
            for record in rs:
                sides[_movie(record)].add(split)
        assert all(len(s) == 1 for s in sides.values())  # a movie's reviews stay together
        movies = collections.Counter(next(iter(s)) for s in sides.values())
        assert movies[names.TRAIN] > movies[names.EVAL] > movies[names.VALID] > 0  # 7:2:1 by movie
    assert by_salt['a'][names.EVAL] != by_salt['b'][names.EVAL]
    assert recipe_splits.split_records(records, 'a') == by_salt['a']  # the same salt, the same split


@pytest.mark.slow
def test_every_variant_is_trained_and_scored_on_every_split(prepared_sample, tiny_glove_dir, tmp_path):
    quick = {'epochs': 2, 'self_training_rounds': 1}
    command = [sys.executable, '-m', 'benchmarks.recipe_splits', '--data', prepared_sample, '--home', str(tmp_path)]
    command += ['--glove-dir', tiny_glove_dir, '--salts', 'a,b', '--output-dir', str(tmp_path)]
    command += ['--work-dir', str(tmp_path / 'work')]
    # The second variant has its own module too: the default's without the bigram table.
    other = quick | {'seed': 7, 'embedding': {'bigram_buckets': 0}}
    command += ['--variant', f'quick={json.dumps(quick)}', '--variant', f'quick_seed={json.dumps(other)}']
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / 'recipe_splits.json').read_text(encoding='utf-8'))
    assert [(r['salt'], r['variant']) for r in written['runs']] == [
        (salt, variant) for salt in ('a', 'b') for variant in ('default', 'quick', 'quick_seed')
    ]
    for run in written['runs']:
        assert 0 <= run['interval'][0] <= run['accuracy'] <= run['interval'][1] <= 1 and 0 <= run['ece'] <= 1
    assert [s['variant'] for s in written['summary']] == ['default', 'quick', 'quick_seed']
    default = recipes.get(recipes.DEFAULT_RECIPE).embedding
    built = {default.module_name, dataclasses.replace(default, bigram_buckets=0).module_name}
    for salt in ('a', 'b'):
        assert set(os.listdir(tmp_path / 'work' / f'split-{salt}' / 'modules')) == built
    assert written['summary'][0]['trainer_time_ratio'] == 1.0
    markdown = (tmp_path / 'recipe_splits.md').read_text(encoding='utf-8')
    assert '| variant | mean accuracy |' in markdown and '`quick`: `{"epochs": 2' in markdown
