"""The release gate end to end (LocalDagRunner, the committed sample of real
reviews): bad data stops the run before training, and nothing reaches serving
that should not."""

import html
import json
import os
import re
import shutil

import pytest
import tensorflow as tf
from scipy import stats

from conftest import SHORT_TRAINING, imdb_tfx
from imdb_tfx import run_info
from imdb_tfx.core import serving
from imdb_tfx.core.home import Home
from imdb_tfx.pipeline import configs


def rewrite(prepared: str, output: str, change) -> str:
    """A copy of prepared data with change(example) applied to every train example."""
    shutil.copytree(prepared, output)
    for path in tf.io.gfile.glob(os.path.join(output, 'train', '*')):
        records = [
            tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path, compression_type='GZIP')
        ]
        with tf.io.TFRecordWriter(path, options='GZIP') as writer:
            for i, example in enumerate(records):
                change(i, example)
                writer.write(example.SerializeToString())
    return output


def report_page(stdout: str) -> str:
    """The report `imdb-tfx run` wrote and named on its last lines."""
    with open(re.search(r'^Report: (.+)$', stdout, re.M).group(1), encoding='utf-8') as f:
        return html.unescape(f.read())


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
def served_home(pipeline_runs):
    """The home of the shared end-to-end runs: one model pushed, serving.
    Tests that run the pipeline again work on their own copy (own_home)."""
    assert pipeline_runs['second'].returncode == 0, pipeline_runs['second'].stderr[-3000:]
    return pipeline_runs['home']


def retrain(home: Home, data: str, hub: str, *options: str):
    return imdb_tfx('run', '--data', data, '--home', home.root, '--hub', hub, *SHORT_TRAINING, *options)


def test_gate_json_has_its_documented_shape(served_home):
    # The newest run re-evaluated the serving model against itself: blessed, not pushed twice.
    gate = imdb_tfx('gate', '--home', served_home.root, '--json')
    assert gate.returncode == 0, gate.stdout + gate.stderr[-2000:]
    verdict = json.loads(gate.stdout)
    assert set(verdict) == {
        'exit_code', 'verdict', 'rejected_by', 'run_id', 'pushed', 'metrics', 'thresholds', 'rules',
        'blessed', 'data_gate', 'drift_gate', 'canary', 'baseline_problem', 'components',
    }  # fmt: skip
    assert verdict['drift_gate'] is None  # not a run on spans
    assert verdict['exit_code'] == 0 and verdict['rejected_by'] == [] and verdict['blessed']
    newest = serving.newest(served_home.serving_dir)
    assert verdict['pushed'] == {'path': newest, 'version': os.path.basename(newest), 'already_serving': True}
    assert verdict['data_gate'] == {'status': 'passed', 'findings': []}
    assert verdict['canary'] == {'passed': True, 'problems': []}
    assert verdict['thresholds'] == {'min_accuracy': 0.6, 'max_accuracy_drop': 0.0, 'regression_confidence': 0.95}

    metrics = verdict['metrics']
    accuracy, n = metrics['binary_accuracy'], metrics['example_count']
    assert set(accuracy) == {'value', 'lower', 'upper', 'threshold', 'serving', 'difference'}
    assert accuracy['lower'] < accuracy['value'] < accuracy['upper'] and accuracy['threshold'] == 0.6
    # The exact binomial interval of the accuracy on n reviews.
    low, high = stats.binomtest(round(accuracy['value'] * n), n).proportion_ci(0.95, method='exact')
    assert (accuracy['lower'], accuracy['upper']) == pytest.approx((low, high))
    # The same model on the same reviews: the same answers, a difference of exactly 0.
    assert accuracy['serving'] == accuracy['value']
    assert accuracy['difference'] == {
        'value': 0.0, 'lower': 0.0, 'upper': 0.0, 'p_value': 1.0,
        'candidate_only_correct': 0, 'serving_only_correct': 0,
    }  # fmt: skip
    auc = metrics['auc']
    assert auc['lower'] < auc['value'] < auc['upper'] and auc['difference']['value'] == 0.0
    assert [(r['rule'], r['passed']) for r in verdict['rules']] == [
        ('data_gate', True), ('accuracy_floor', True), ('no_regression', True), ('serving_canary', True),
    ]  # fmt: skip


@pytest.mark.parametrize(
    'change, feature, kind',
    [
        (label_two, 'label', 'INT_TYPE_BIG_INT'),
        # The data gate's unit tests (components/data_gate/checks_test.py) cover
        # every kind in seconds; end to end, one is enough for `make test`.
        pytest.param(no_text, 'text', 'FEATURE_TYPE_LOW_FRACTION_PRESENT', marks=pytest.mark.slow),
        pytest.param(label_as_bytes, 'label', 'UNEXPECTED_DATA_TYPE', marks=pytest.mark.slow),
    ],
)
def test_anomalous_data_stops_the_run_at_the_data_gate(
    own_home, prepared_sample, tiny_embedding, tmp_path, change, feature, kind
):
    bad = rewrite(prepared_sample, str(tmp_path / 'bad'), change)
    before = serving.versions(own_home.serving_dir)

    result = imdb_tfx(
        'run',
        '--data',
        bad,
        '--home',
        own_home.root,
        '--hub',
        tiny_embedding,
        '--epochs',
        '8',
        '--batch-size',
        '64',
        '--min-accuracy',
        '0.6',
    )

    assert result.returncode == 1
    assert 'FAILED at DataGate' in result.stdout
    assert f'{feature}: {kind}' in result.stdout + result.stderr
    run = run_info.load_run(run_info.open_store(own_home.metadata_path), configs.PIPELINE_NAME)
    assert run.nodes['DataGate'].state == 'FAILED'
    assert 'Trainer' not in run.nodes and 'Pusher' not in run.nodes
    assert serving.versions(own_home.serving_dir) == before

    gate = imdb_tfx('gate', '--home', own_home.root, '--json')
    assert gate.returncode == 2
    verdict = json.loads(gate.stdout)
    assert verdict['data_gate']['status'] == 'failed' and verdict['verdict'].startswith('FAILED at DataGate')
    assert any(f'{feature}: {kind}' in finding for finding in verdict['data_gate']['findings'])
    assert f'{feature}: {kind}' in verdict['verdict'] and verdict['rejected_by'] == ['data_gate']
    assert verdict['metrics'] is None and verdict['pushed'] is None

    # The failed run's report shows how far it got, and why it stopped.
    page = report_page(result.stdout)
    assert 'FAILED at DataGate' in page and 'Data gate: <b>failed</b>' in page
    assert f'{feature}: {kind}' in page
    assert 'did not reach the Trainer' in page and 'did not reach the Evaluator' in page


# The paired rule's decisions are unit tests (modules/paired_accuracy_test.py);
# these retrain end to end, in make test-all.
@pytest.mark.slow
def test_a_retrain_with_another_seed_is_not_a_regression(own_home, prepared_sample, tiny_embedding):
    """Noise is not a regression: the same recipe with another seed answers
    differently on some reviews, and the paired rule does not reject it."""
    result = retrain(own_home, prepared_sample, tiny_embedding, '--seed', '7')
    assert result.returncode == 0, result.stderr[-3000:]

    gate = imdb_tfx('gate', '--home', own_home.root, '--json')
    verdict = json.loads(gate.stdout)
    difference = verdict['metrics']['binary_accuracy']['difference']
    assert difference['candidate_only_correct'] + difference['serving_only_correct'] > 0  # another model
    # Not significantly worse (the seed alone can make it better or worse on 250 reviews).
    assert difference['upper'] > 0
    assert 'no_regression' not in verdict['rejected_by']
    assert gate.returncode == 0 and verdict['pushed']['already_serving'] is False
    assert 'Gate no_regression: passed: not worse than the serving model with 0.95 confidence' in result.stdout


@pytest.mark.slow
def test_a_clearly_worse_candidate_is_rejected_by_the_paired_rule(own_home, prepared_sample, tiny_embedding):
    before = serving.versions(own_home.serving_dir)
    # One epoch at a tiny learning rate: near chance, yet above a floor of 0.
    result = retrain(
        own_home, prepared_sample, tiny_embedding, '--epochs', '1', '--learning-rate', '0.00001', '--min-accuracy', '0'
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'REJECTED, nothing pushed: no_regression: worse than the serving model with 0.95 confidence' in result.stdout

    gate = imdb_tfx('gate', '--home', own_home.root, '--json')
    assert gate.returncode == 1
    verdict = json.loads(gate.stdout)
    assert verdict['rejected_by'] == ['no_regression'] and verdict['pushed'] is None
    accuracy = verdict['metrics']['binary_accuracy']
    assert accuracy['difference']['upper'] < 0 and accuracy['difference']['p_value'] < 0.05
    assert accuracy['difference']['value'] == pytest.approx(accuracy['value'] - accuracy['serving'])
    page = report_page(result.stdout)
    assert 'REJECTED, nothing pushed' in page and 'Evaluator verdict: <b>not blessed</b>' in page
    assert re.search(r'<td>no_regression</td><td>FAIL</td>', page)
    assert serving.versions(own_home.serving_dir) == before


def test_gate_without_any_run_exits_2(tmp_path):
    gate = imdb_tfx('gate', '--home', str(tmp_path))
    assert gate.returncode == 2 and 'no run' in gate.stdout
