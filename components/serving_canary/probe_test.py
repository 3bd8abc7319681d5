"""The serving canary's probe on SavedModels that serve well and badly."""

import json
import sys

import pytest
import tensorflow as tf

from imdb_tfx.components.serving_canary import probe

SAMPLE = ['A fine film.', 'Dreadful.', 'Ok, I guess.']


class Served(tf.Module):
    """Both serving signatures, with `behave(texts) -> probabilities`."""

    def __init__(self, behave):
        super().__init__()
        self._behave = behave

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='text')])
    def serve_text(self, text):
        return {'probability': self._behave(text)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
    def serve_examples(self, examples):
        text = tf.io.parse_example(examples, {'text': tf.io.FixedLenFeature([], tf.string)})['text']
        return {'probability': self._behave(text)}


def length_score(text):
    return tf.sigmoid(tf.cast(tf.strings.length(text), tf.float32)[:, None] / 100 - 1)


def save(tmp_path, behave, examples_behave=None) -> str:
    module = Served(behave)
    signatures = {'serving_text': module.serve_text, 'serving_default': module.serve_examples}
    if examples_behave is not None:
        other = Served(examples_behave)
        signatures['serving_default'] = other.serve_examples
    path = str(tmp_path / 'model')
    tf.saved_model.save(module, path, signatures=signatures)
    return path


def test_a_good_model_passes_every_batch(tmp_path):
    report = probe.probe(save(tmp_path, length_score), SAMPLE, max_batch_seconds=10)
    assert report['passed'], report['problems']
    assert set(report['batches']) == set(probe.edge_cases(SAMPLE))
    assert report['batches']['batch of 1,000']['size'] == 1000
    assert report['batches']['100 KB review']['size'] == 1


@pytest.mark.parametrize(
    'behave, problem',
    [
        (lambda t: length_score(t) * float('nan'), 'non-finite probabilities'),
        (lambda t: length_score(t)[:, 0], 'expected float32'),  # shape [batch]
        (lambda t: length_score(t) + 1, 'outside [0, 1]'),
        (lambda t: tf.cast(length_score(t), tf.float64), 'expected float32'),
    ],
)
def test_a_model_serving_bad_values_fails(tmp_path, behave, problem):
    report = probe.probe(save(tmp_path, behave), SAMPLE, max_batch_seconds=10)
    assert not report['passed']
    assert all(problem in p for p in report['problems'])
    assert len(report['problems']) == 2 * len(probe.edge_cases(SAMPLE))  # both signatures, every batch


def test_signatures_that_disagree_fail(tmp_path):
    report = probe.probe(save(tmp_path, length_score, lambda t: 1 - length_score(t)), SAMPLE, 10)
    assert not report['passed'] and 'disagree' in report['problems'][0]


def test_a_slow_model_fails_the_latency_bound(tmp_path):
    report = probe.probe(save(tmp_path, length_score), SAMPLE, max_batch_seconds=0.0)
    assert not report['passed'] and 'bound 0.0 s' in report['problems'][0]


def test_missing_signature_fails(tmp_path):
    module = Served(length_score)
    path = str(tmp_path / 'model')
    tf.saved_model.save(module, path, signatures={'serving_text': module.serve_text})
    assert probe.probe(path, SAMPLE, 10)['problems'] == ["missing signatures: ['serving_default']"]


# Users' own TFRecords may hold reviews that are not UTF-8: served as the bytes they are.
NOT_UTF8 = [b'\xff\xfe bad', b'caf\xe9 (latin-1)', b'cut mid-character \xe6\x98']


def test_reviews_that_are_not_utf8_are_served_as_their_bytes(tmp_path):
    report = probe.probe(save(tmp_path, length_score), NOT_UTF8 + SAMPLE, max_batch_seconds=10)
    assert report['passed'], report['problems']


def test_the_sample_file_carries_bytes_that_are_not_utf8(tmp_path, monkeypatch):
    # JSON holds str: an undecodable byte travels as a lone surrogate (surrogateescape) and comes back as itself.
    as_text = [r.decode('utf-8', 'surrogateescape') for r in NOT_UTF8]
    assert [probe.review_bytes(t) for t in as_text] == NOT_UTF8
    assert probe.review_bytes('\ud800 lone') == '\ud800 lone'.encode('utf-8', 'surrogatepass')
    sample_file, report_file = tmp_path / 'sample.json', tmp_path / 'report.json'
    sample_file.write_text(json.dumps(as_text), encoding='utf-8')
    argv = ['probe', '--model', save(tmp_path, length_score), '--sample', str(sample_file)]
    monkeypatch.setattr(sys, 'argv', argv + ['--max-batch-seconds', '10', '--report', str(report_file)])
    probe.main()
    report = json.loads(report_file.read_text(encoding='utf-8'))
    assert report['passed'], report['problems']
    assert report['batches']['eval sample']['size'] == len(NOT_UTF8)


def test_a_model_that_cannot_serve_bytes_that_are_not_utf8_is_a_problem_not_a_crash(tmp_path):
    def strict_utf8(text):
        chars = tf.strings.unicode_decode(text, 'UTF-8', errors='strict')
        return tf.sigmoid(tf.cast(chars.row_lengths(), tf.float32)[:, None] / 100 - 1)

    report = probe.probe(save(tmp_path, strict_utf8), NOT_UTF8, max_batch_seconds=10)
    assert not report['passed']
    failed = report['batches']['eval sample']['problems']
    assert len(failed) == 2 and all('could not serve the batch (InvalidArgumentError' in p for p in failed)
    assert report['batches']['empty review']['problems'] == []
