"""The Beam options' parsing and the workers' check, without a runner."""

import json
import os
import subprocess
import sys

import pytest

from imdb_tfx.pipeline import beam


@pytest.mark.parametrize(
    'args, runner',
    [
        ([], 'DirectRunner'),
        (['--direct_num_workers=2'], 'DirectRunner'),
        (['--runner=PortableRunner', '--job_endpoint=localhost:8099'], 'PortableRunner'),
        (['--runner', 'FlinkRunner'], 'FlinkRunner'),
        (['--runner=DirectRunner', '--runner=SparkRunner'], 'SparkRunner'),  # the last wins, as in Beam
        (['--runner=apache_beam.runners.dataflow.DataflowRunner'], 'DataflowRunner'),
    ],
)
def test_runner_of(args, runner):
    assert beam.runner_of(args) == runner


EXPECTED = {'imdb_tfx': '0.2.0', 'tfx': '1.16.0', 'apache_beam': '2.59.0'}


def test_a_worker_like_the_launcher_has_no_problem():
    assert beam.worker_problems({**EXPECTED, 'TF_USE_LEGACY_KERAS': '1'}, EXPECTED) == []


def test_each_difference_is_named():
    facts = {'imdb_tfx': None, 'tfx': '1.15.0', 'apache_beam': '2.59.0', 'TF_USE_LEGACY_KERAS': '0'}
    assert beam.worker_problems(facts, EXPECTED) == [
        "TF_USE_LEGACY_KERAS is '0', must be '1' from its start",
        'imdb_tfx there is not importable, here 0.2.0',
        'tfx there is 1.15.0, here 1.16.0',
    ]


@pytest.mark.parametrize('started_with, seen', [(None, None), ('1', '1')])
def test_the_keras_setting_is_read_as_the_process_started(started_with, seen):
    """imdb_tfx sets TF_USE_LEGACY_KERAS on import: a worker started without it must still be caught."""
    env = {k: v for k, v in os.environ.items() if k != 'TF_USE_LEGACY_KERAS'}
    if started_with:
        env['TF_USE_LEGACY_KERAS'] = started_with
    code = 'import os, json; from imdb_tfx.pipeline import beam; '
    code += 'print(json.dumps([os.environ["TF_USE_LEGACY_KERAS"], beam.environment_facts()]))'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300)
    now, facts = json.loads(result.stdout)
    assert now == '1' and facts['TF_USE_LEGACY_KERAS'] == seen
    assert beam.worker_problems(facts, facts) == (
        [] if seen else ["TF_USE_LEGACY_KERAS is None, must be '1' from its start"]
    )


@pytest.mark.parametrize(
    'text, reason',
    [
        (
            'Traceback ...\nRuntimeError: imdb-tfx worker check: the worker (python /x): tfx there is 1.0\n',
            'the worker (python /x): tfx there is 1.0',
        ),
        ('grpc ... StatusCode.DEADLINE_EXCEEDED ...', 'no worker answered in time'),
        ('failed to connect to all addresses; StatusCode.UNAVAILABLE', 'does not answer at the given address'),
        ('first\nlast line\n', 'last line'),
    ],
    ids=['marked', 'deadline', 'unavailable', 'other'],
)
def test_the_reason_is_one_line_of_the_runners_error(text, reason):
    assert reason in beam._reason(text) and '\n' not in beam._reason(text)


def test_direct_runner_options_are_not_checked_on_workers(monkeypatch):
    monkeypatch.setattr(beam, 'environment_facts', lambda: pytest.fail('checked'))
    beam.check_workers(['--direct_running_mode=multi_processing', '--direct_num_workers=2'])
