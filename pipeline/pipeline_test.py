"""create_pipeline's parts: three splits with one job each, and the release
gate's thresholds as the Evaluator and `gate` read them."""

import json

import pytest
from google.protobuf import json_format

from core import names
from imdb_tfx import outcome
from pipeline import configs, pipeline


@pytest.mark.parametrize('split', [configs.SPLIT_MOVIE, configs.SPLIT_RANDOM])
def test_hash_splits_are_train_valid_eval_in_the_configured_ratio(split):
    _, output = pipeline.example_gen_configs(split, configs.SPLIT_BUCKETS)
    splits = output.split_config.splits
    assert [(s.name, s.hash_buckets) for s in splits] == list(zip(names.LABELLED_SPLITS, configs.SPLIT_BUCKETS))
    assert output.split_config.partition_feature_name == ('movie_id' if split == configs.SPLIT_MOVIE else '')


def test_source_split_takes_valid_from_the_first_train_shard():
    import fnmatch

    inputs, output = pipeline.example_gen_configs(configs.SPLIT_SOURCE, configs.SPLIT_BUCKETS)
    assert output is None
    patterns = {s.name: s.pattern for s in inputs.splits}
    shards = [f'train/data-{i:05d}-of-00012.tfrecord.gz' for i in range(12)]
    assert [f for f in shards if fnmatch.fnmatch(f, patterns['valid'])] == shards[:1]
    assert [f for f in shards if fnmatch.fnmatch(f, patterns['train'])] == shards[1:]
    assert patterns['eval'] == 'test/*'


def test_the_gate_reads_back_the_thresholds_it_was_given():
    config = pipeline.eval_config(min_accuracy=0.8, max_accuracy_drop=0.02, regression_confidence=0.99)
    assert outcome.configured_thresholds(json_format.MessageToJson(config)) == {
        'min_accuracy': 0.8,
        'max_accuracy_drop': 0.02,
        'regression_confidence': 0.99,
    }
    (paired,) = [m for m in config.metrics_specs[0].metrics if m.class_name == names.PAIRED_ACCURACY_METRIC]
    assert json.loads(paired.config) == {'confidence': 0.99}
    # Accuracy itself has no change threshold: a point difference alone rejects nothing.
    (accuracy,) = [m for m in config.metrics_specs[0].metrics if m.class_name == 'BinaryAccuracy']
    assert not accuracy.per_slice_thresholds[0].threshold.HasField('change_threshold')
    # Intervals from counts: TFMA's jackknife made the Evaluator 5-10x slower.
    assert not config.options.compute_confidence_intervals.value
