"""The drift measures on real reviews: one span against itself drifts by
nothing; a feed of only 1- and 10-star reviews drifts in ratings."""

import collections
import os

import pytest
import tensorflow as tf

from imdb_tfx.components.drift_gate import profile

THRESHOLDS = dict.fromkeys(profile.MEASURES, 0.05)


def _write(path, examples):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, 'GZIP') as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    return path


def _examples(prepared, keep=lambda example: True):
    files = tf.io.gfile.glob(os.path.join(prepared, 'train', '*'))
    examples = [tf.train.Example.FromString(r) for r in tf.data.TFRecordDataset(files, 'GZIP').as_numpy_iterator()]
    return [e for e in examples if keep(e)]


@pytest.fixture(scope='module')
def sample_profile(prepared_sample):
    return profile.profile([os.path.join(prepared_sample, 'train', '*')])


def test_a_span_against_itself_drifts_by_nothing(sample_profile):
    assert sample_profile.reviews == 1000
    assert 0.3 < sample_profile.positive_share < 0.7
    assert set(sample_profile.ratings) <= {1, 2, 3, 4, 7, 8, 9, 10}
    assert abs(sum(sample_profile.ratings.values()) - 1) < 1e-9
    vocabulary = {w for w, _ in sample_profile.token_counts.most_common(2000)}
    measures = profile.compare(sample_profile, sample_profile, THRESHOLDS, vocabulary)
    assert [m.name for m in measures] == list(profile.MEASURES)
    assert all(m.distance == pytest.approx(0, abs=1e-12) and not m.drifted for m in measures)


def test_only_extreme_ratings_drift_in_ratings(sample_profile, prepared_sample, tmp_path):
    extremes = _examples(prepared_sample, lambda e: e.features.feature['rating'].int64_list.value[0] in (1, 10))
    drifted = profile.profile([_write(str(tmp_path / 'x' / 'data.gz'), extremes)])
    assert set(drifted.ratings) == {1, 10}
    measures = {m.name: m for m in profile.compare(drifted, sample_profile, THRESHOLDS, None)}
    expected = max(abs(drifted.ratings.get(s, 0) - sample_profile.ratings.get(s, 0)) for s in range(1, 11))
    assert measures[profile.RATING].distance == pytest.approx(expected) and measures[profile.RATING].drifted
    assert profile.OOV_RATE not in measures  # no serving vocabulary: not measured


def test_oov_rate_and_top_tokens():
    counts = collections.Counter({b'good': 6, b'film': 3, b'zzz': 1})
    assert profile.oov_rate(counts, {b'good', b'film'}) == pytest.approx(0.1)
    assert profile.top_tokens_divergence(counts, counts) == pytest.approx(0)
    other = collections.Counter({b'bad': 6, b'show': 4})
    assert profile.top_tokens_divergence(counts, other) == pytest.approx(1)  # nothing shared: 1 bit
