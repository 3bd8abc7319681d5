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

from conftest import imdb_tfx
from imdb_tfx import run_info, serving
from pipeline import configs


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
    """The home of the shared end-to-end runs: one model pushed, serving."""
    assert pipeline_runs['second'].returncode == 0, pipeline_runs['second'].stderr[-3000:]
    return pipeline_runs['home']


def test_gate_passes_the_blessed_model_already_serving(served_home):
    # The newest run re-evaluated the serving model against itself: blessed, not pushed twice.
    gate = imdb_tfx('gate', '--home', served_home.root, '--json')
    assert gate.returncode == 0, gate.stdout + gate.stderr[-2000:]
    verdict = json.loads(gate.stdout)
    assert verdict['blessed'] and verdict['canary']['passed'] and verdict['data_gate'] == 'passed'
    assert verdict['metrics']['binary_accuracy'] == verdict['baseline_metrics']['binary_accuracy']
    assert verdict['pushed'] == {'path': serving.newest(served_home.serving_dir), 'already_serving': True}
    assert verdict['thresholds'] == {'min_accuracy': 0.6, 'max_accuracy_drop': 0.0}


@pytest.mark.parametrize(
    'change, feature, kind',
    [
        (label_two, 'label', 'INT_TYPE_BIG_INT'),
        (no_text, 'text', 'FEATURE_TYPE_LOW_FRACTION_PRESENT'),
        (label_as_bytes, 'label', 'UNEXPECTED_DATA_TYPE'),
    ],
)
def test_anomalous_data_stops_the_run_at_the_data_gate(
    served_home, prepared_sample, tiny_embedding, tmp_path, change, feature, kind
):
    bad = rewrite(prepared_sample, str(tmp_path / 'bad'), change)
    before = serving.versions(served_home.serving_dir)

    result = imdb_tfx(
        'run',
        '--data',
        bad,
        '--home',
        served_home.root,
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
    run = run_info.load_run(run_info.open_store(served_home.metadata_path), configs.PIPELINE_NAME)
    assert run.nodes['DataGate'].state == 'FAILED'
    assert 'Trainer' not in run.nodes and 'Pusher' not in run.nodes
    assert serving.versions(served_home.serving_dir) == before

    gate = imdb_tfx('gate', '--home', served_home.root, '--json')
    assert gate.returncode == 2
    verdict = json.loads(gate.stdout)
    assert verdict['data_gate'] == 'failed' and verdict['verdict'].startswith('FAILED at DataGate')
    assert f'{feature}: {kind}' in verdict['verdict']

    # The failed run's report shows how far it got, and why it stopped.
    page = report_page(result.stdout)
    assert 'FAILED at DataGate' in page and 'Data gate: <b>failed</b>' in page
    assert f'{feature}: {kind}' in page
    assert 'did not reach the Trainer' in page and 'did not reach the Evaluator' in page


def test_a_candidate_worse_than_the_serving_model_is_not_pushed(served_home, prepared_sample, tiny_embedding):
    before = serving.versions(served_home.serving_dir)
    # One epoch at a tiny learning rate: near chance, above a floor of 0.
    result = imdb_tfx(
        'run',
        '--data',
        prepared_sample,
        '--home',
        served_home.root,
        '--hub',
        tiny_embedding,
        '--epochs',
        '1',
        '--batch-size',
        '64',
        '--learning-rate',
        '0.00001',
        '--min-accuracy',
        '0.0',
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'REJECTED, nothing pushed' in result.stdout

    gate = imdb_tfx('gate', '--home', served_home.root, '--json')
    assert gate.returncode == 1
    verdict = json.loads(gate.stdout)
    assert verdict['blessed'] is False and verdict['pushed']['path'] is None
    assert verdict['metrics']['binary_accuracy'] < verdict['baseline_metrics']['binary_accuracy']
    assert any('binary_accuracy change vs serving model' in r for r in verdict['failed_thresholds'])
    page = report_page(result.stdout)
    assert 'REJECTED, nothing pushed' in page and 'Evaluator verdict: <b>not blessed</b>' in page
    assert re.search(r'<td>binary_accuracy</td>.*?<td>FAIL</td>', page, re.S)
    assert serving.versions(served_home.serving_dir) == before


def test_gate_without_any_run_exits_2(tmp_path):
    gate = imdb_tfx('gate', '--home', str(tmp_path))
    assert gate.returncode == 2 and 'no run' in gate.stdout
