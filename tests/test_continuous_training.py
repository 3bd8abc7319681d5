"""Continuous training end to end (LocalDagRunner, the committed sample of
real reviews cut into spans): a two-span simulation whose drifted span is
stopped, then a new span on a rolling window with a warm start."""

import json
import os
import shutil

import pytest

from conftest import SAMPLE_ARCHIVE, SHORT_TRAINING, imdb_tfx, newest_run
from imdb_tfx import simulate, spans
from imdb_tfx.core import names
from imdb_tfx.core.home import Home

# The sample's spans are small (500 reviews): a floor they can all clear.
# One training a run (no self-training, no refit): the loop is under test, not the recipe.
RUN_OPTIONS = (
    '--hub',
    '{hub}',
    *SHORT_TRAINING,
    '--min-accuracy',
    '0.5',
    '--self-training-confidence',
    '0',
    '--no-refit',
)


@pytest.fixture(scope='module')
def simulated(tmp_path_factory, tiny_embedding):
    """`imdb-tfx simulate --spans 2` on the sample: span 2 arrives drifted.
    No test changes this home; the one that runs again copies it."""
    home = tmp_path_factory.mktemp('simulation') / 'home'
    options = [o.format(hub=tiny_embedding) for o in RUN_OPTIONS]
    result = imdb_tfx('simulate', '--spans', '2', '--home', str(home), '--data', SAMPLE_ARCHIVE, '--', *options)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(home / 'simulation' / simulate.RESULTS) as f:
        return Home.at(str(home)), json.load(f), result.stdout, options


def test_the_first_span_is_pushed_and_the_drifted_one_stopped(simulated):
    home, results, stdout, _ = simulated
    first, drifted = results
    assert (first['span'], first['drift_status'], first['window'], first['decision']) == (1, 'passed', [1], 'pushed')
    assert first['serving_after'] == first['pushed_version'] and first['accuracy'] is not None
    assert first['min_accuracy'] == 0.5  # the floor the plot draws
    assert drifted['drifted_on_purpose'] and drifted['decision'] == 'stopped by the drift gate'
    assert drifted['drift_status'] == 'failed' and drifted['reference_span'] == 1
    rating = next(m for m in drifted['measures'] if m['name'] == 'rating')
    assert rating['drifted'] and rating['distance'] > rating['threshold'] == 0.2
    # Nothing trained on it, and the model of span 1 still serves.
    assert drifted['window'] == [] and drifted['accuracy'] is None
    assert drifted['serving_after'] == first['pushed_version']
    # The table and the plot, named at the end of the output.
    root = os.path.join(home.root, 'simulation')
    table = open(os.path.join(root, simulate.TABLE)).read()
    assert '| 2 (drifted on purpose) |' in table and 'stopped by the drift gate' in table and table in stdout
    with open(os.path.join(root, simulate.PLOT), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert f'Plot: {root}/{simulate.PLOT}' in stdout


def test_gate_names_the_drifted_measure(simulated):
    home = simulated[0]
    result = imdb_tfx('gate', '--home', home.root, '--json')
    assert result.returncode == 2
    verdict = json.loads(result.stdout)
    assert verdict['drift_gate']['status'] == 'failed' and verdict['rejected_by'] == ['drift_gate']
    rule = next(r for r in verdict['rules'] if r['rule'] == 'drift_gate')
    assert 'span 2 drifted from span 1' in rule['detail'] and 'rating' in rule['detail'] and '0.2' in rule['detail']
    text = imdb_tfx('gate', '--home', home.root)
    assert 'FAILED at DriftGate: span 2 drifted from span 1' in text.stdout


@pytest.mark.slow  # make test-all; in make test: the window in DriftGate's tests, warm start in modules/
def test_a_new_span_trains_on_the_accepted_window_from_the_serving_weights(simulated, tmp_path):
    original, results, _, options = simulated
    home = Home.at(str(tmp_path / 'home'))
    shutil.copytree(original.root, home.root)
    data = os.path.join(home.root, 'simulation', 'data')
    # Span 2 as it should have arrived, now as span 3; the sample's spans
    # differ more than the full archive's, so the thresholds are relaxed.
    added = imdb_tfx('ingest', spans.span_dir(os.path.join(original.root, 'simulation', 'spans'), 2), '--data', data)
    assert added.returncode == 0, added.stderr
    relaxed = [
        arg
        for m in ('label_balance', 'rating', 'review_length', 'oov_rate', 'top_tokens')
        for arg in ('--max-drift', f'{m}=1')
    ]
    result = imdb_tfx('run', '--data', data, '--home', home.root, *options, '--window', '2', '--warm-start', *relaxed)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert 'Drift gate: passed: span 3 vs span 1' in result.stdout
    run = newest_run(home)
    # The newest two accepted spans: 3 and 1 (span 2 was stopped); what the Trainer read.
    window = run.output(names.DRIFT_GATE, 'window')
    assert window.properties['spans'] == '1,3'
    assert [a.uri for a in run.nodes[names.TRAINER].inputs['examples']] == [window.uri]
    model_run = run.output(names.TRAINER, 'model_run').uri
    with open(os.path.join(model_run, names.WARM_START_FILE)) as f:
        warm = json.load(f)
    assert warm['from'].startswith(home.root) and warm['head_layers_copied'] == ['hidden', 'logits']
    assert 0 < warm['words_copied'] <= warm['words']
    assert f'Note: Warm start: from {warm["from"]} ({warm["words_copied"]} of {warm["words"]} words)' in result.stdout
    assert 'no cold start on the same window (spans 1,3) to compare with' in result.stdout
    # A warm start trains at most --warm-start-epochs (3) epochs.
    with open(os.path.join(model_run, names.HISTORY_FILE)) as f:
        assert len(json.load(f)['loss']) <= 3
