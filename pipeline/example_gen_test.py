"""The ExampleGens' split configs: three splits with one job each."""

import fnmatch

import pytest

from imdb_tfx.core import names
from imdb_tfx.pipeline import configs
from imdb_tfx.pipeline.config import DataConfig
from imdb_tfx.pipeline.example_gen import split_configs


@pytest.mark.parametrize('split', [configs.SPLIT_MOVIE, configs.SPLIT_RANDOM])
def test_hash_splits_are_train_valid_eval_in_the_configured_ratio(split):
    _, output = split_configs(DataConfig(split=split))
    splits = output.split_config.splits
    assert [(s.name, s.hash_buckets) for s in splits] == list(zip(names.LABELLED_SPLITS, configs.SPLIT_BUCKETS))
    assert output.split_config.partition_feature_name == ('movie_id' if split == configs.SPLIT_MOVIE else '')


def test_source_split_takes_valid_from_the_first_train_shard():
    inputs, output = split_configs(DataConfig(split=configs.SPLIT_SOURCE))
    assert output is None
    patterns = {s.name: s.pattern for s in inputs.splits}
    shards = [f'train/data-{i:05d}-of-00012.tfrecord.gz' for i in range(12)]
    assert [f for f in shards if fnmatch.fnmatch(f, patterns['valid'])] == shards[:1]
    assert [f for f in shards if fnmatch.fnmatch(f, patterns['train'])] == shards[1:]
    assert patterns['eval'] == 'test/*'


def test_a_spans_pipeline_reads_the_newest_span_and_has_no_source_split():
    inputs, _ = split_configs(DataConfig(), spans=True)
    assert inputs.splits[0].pattern == f'{names.SPAN_DIR_PATTERN}/train/*'
    with pytest.raises(ValueError, match='spans have no source test split'):
        split_configs(DataConfig(split=configs.SPLIT_SOURCE), spans=True)
