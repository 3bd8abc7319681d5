"""DriftGate's executor on real Examples artifacts: the first span passes
with nothing to compare, a drifted span raises naming the measure, an
accepted span carries its splits, its unlabeled reviews and its span."""

import json
import os
import shutil

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from imdb_tfx.components.drift_gate import component, ledger, profile
from imdb_tfx.core import names

THRESHOLDS = json.dumps({**dict.fromkeys(profile.MEASURES, 1.0), profile.LABEL_BALANCE: 0.05})


def _examples(uri, prepared, splits, span):
    artifact = standard_artifacts.Examples()
    artifact.uri = uri
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    for split, folder in splits.items():
        shutil.copytree(os.path.join(prepared, folder), os.path.join(uri, f'Split-{split}'))
    artifact.set_int_custom_property(names.SPAN_PROPERTY, span)
    artifact.set_int_custom_property(names.VERSION_PROPERTY, 0)
    return artifact


def _run(tmp_path, examples, reference=None, unlabeled=None, earlier=(), window_spans=2, span_ledger=None):
    baseline, accepted, window = (
        standard_artifacts.Model(),
        standard_artifacts.Examples(),
        standard_artifacts.Examples(),
    )
    baseline.uri = str(tmp_path / 'baseline')
    accepted.uri, window.uri = (
        str(tmp_path / f'{kind}-{os.path.basename(examples.uri)}') for kind in ('accepted', 'window')
    )
    inputs = {'examples': [examples], 'baseline': [baseline], 'earlier': list(earlier)}
    if reference is not None:
        inputs['reference'] = [reference]
    if unlabeled is not None:
        inputs['unlabeled_examples'] = [unlabeled]
    parameters = {'thresholds': THRESHOLDS, 'window_spans': window_spans}
    if span_ledger:
        parameters['span_ledger'] = span_ledger
    component.DriftGate.EXECUTOR_SPEC.executor_class().Do(
        inputs, {'accepted': [accepted], 'window': [window]}, parameters
    )
    return accepted, window


LABELLED = {split: 'train' for split in names.LABELLED_SPLITS}


def test_the_first_span_passes_and_is_passed_on_whole(tmp_path, prepared_sample):
    span = _examples(str(tmp_path / 'span1'), prepared_sample, LABELLED, 1)
    unlabeled = _examples(str(tmp_path / 'unl1'), prepared_sample, {names.UNLABELED: 'unsup'}, 1)
    accepted, window = _run(tmp_path, span, unlabeled=unlabeled)
    assert artifact_utils.decode_split_names(accepted.split_names) == [*names.LABELLED_SPLITS, names.UNLABELED]
    assert accepted.get_int_custom_property(names.SPAN_PROPERTY) == 1
    assert sorted(os.listdir(os.path.join(accepted.uri, 'Split-unlabeled'))) == sorted(
        os.listdir(os.path.join(prepared_sample, 'unsup'))
    )
    report = json.load(open(os.path.join(accepted.uri, component.REPORT_FILE)))
    assert report['reference_span'] is None and report['measures'] == []
    # The window: this span alone, what trains (no eval split).
    assert window.get_string_custom_property(component.WINDOW_SPANS) == '1'
    assert artifact_utils.decode_split_names(window.split_names) == [names.TRAIN, names.VALID, names.UNLABELED]


def test_the_window_holds_the_newest_accepted_spans(tmp_path, prepared_sample):
    earlier = []
    for number in (1, 2, 3):
        accepted, _ = _run(tmp_path, _examples(str(tmp_path / f'span{number}'), prepared_sample, LABELLED, number))
        earlier.append(accepted)
    # Span 3 again (a re-run), window 3: spans 3, 2 and 1, not span 3 twice.
    span3 = _examples(str(tmp_path / 'span3-again'), prepared_sample, LABELLED, 3)
    _, window = _run(tmp_path, span3, reference=earlier[-1], earlier=earlier, window_spans=3)
    assert window.get_string_custom_property(component.WINDOW_SPANS) == '1,2,3'
    train = sorted(os.listdir(os.path.join(window.uri, 'Split-train')))
    per_span = len(os.listdir(os.path.join(prepared_sample, 'train')))
    assert len(train) == 3 * per_span and {name.split('-')[1] for name in train} == {'1', '2', '3'}
    # Window 2: the newest earlier span besides this one.
    span4 = _examples(str(tmp_path / 'span4'), prepared_sample, LABELLED, 4)
    _, window = _run(tmp_path, span4, reference=earlier[-1], earlier=earlier, window_spans=2)
    assert window.get_string_custom_property(component.WINDOW_SPANS) == '3,4'


def _flipped(tmp_path, prepared_sample):
    """The same reviews, every one labelled positive: label balance drifts."""
    flipped = str(tmp_path / 'flipped')
    shutil.copytree(prepared_sample, flipped)
    for path in tf.io.gfile.glob(os.path.join(flipped, 'train', '*')):
        examples = [tf.train.Example.FromString(r) for r in tf.data.TFRecordDataset(path, 'GZIP').as_numpy_iterator()]
        with tf.io.TFRecordWriter(path, 'GZIP') as writer:
            for example in examples:
                example.features.feature['label'].int64_list.value[:] = [1]
                writer.write(example.SerializeToString())
    return flipped


def test_a_drifted_span_stops_and_an_accepted_one_rerun_compares_with_its_own_reference(tmp_path, prepared_sample):
    first, _ = _run(tmp_path, _examples(str(tmp_path / 'span1'), prepared_sample, LABELLED, 1))
    flipped = _flipped(tmp_path, prepared_sample)
    with pytest.raises(component.DriftError, match=r'span 2 drifted from span 1: label_balance \(0\.\d+ -> 1\)'):
        _run(tmp_path, _examples(str(tmp_path / 'span2'), flipped, LABELLED, 2), reference=first)
    # Span 1 again (a re-run): compared with what span 1 was compared with, nothing.
    again, _ = _run(tmp_path, _examples(str(tmp_path / 'span3'), prepared_sample, LABELLED, 1), reference=first)
    assert json.load(open(os.path.join(again.uri, component.REPORT_FILE)))['reference_span'] is None


def test_with_a_ledger_earlier_spans_come_from_it_and_only_accepted_ones_are_recorded(tmp_path, prepared_sample):
    """Kubeflow's way: no resolved inputs, the ledger stands in for ML Metadata."""
    span_ledger = str(tmp_path / 'ledger')
    for number in (1, 2):
        _run(
            tmp_path,
            _examples(str(tmp_path / f'span{number}'), prepared_sample, LABELLED, number),
            span_ledger=span_ledger,
        )
    assert [a.get_int_custom_property(names.SPAN_PROPERTY) for a in ledger.accepted_spans(span_ledger)] == [1, 2]
    # Span 3 drifted from span 2 (the newest accepted): stopped, not recorded.
    with pytest.raises(component.DriftError, match='span 3 drifted from span 2'):
        _run(
            tmp_path,
            _examples(str(tmp_path / 'span3'), _flipped(tmp_path, prepared_sample), LABELLED, 3),
            span_ledger=span_ledger,
        )
    assert len(ledger.accepted_spans(span_ledger)) == 2
    # Span 4: compared with span 2, trained on spans 1, 2 and 4.
    accepted, window = _run(
        tmp_path,
        _examples(str(tmp_path / 'span4'), prepared_sample, LABELLED, 4),
        window_spans=3,
        span_ledger=span_ledger,
    )
    assert json.load(open(os.path.join(accepted.uri, component.REPORT_FILE)))['reference_span'] == 2
    assert window.get_string_custom_property(component.WINDOW_SPANS) == '1,2,4'
    recorded = ledger.accepted_spans(span_ledger)[-1]
    assert (recorded.uri, recorded.split_names) == (accepted.uri, accepted.split_names)
    assert recorded.get_int_custom_property(names.SPAN_PROPERTY) == 4
