"""The pipeline's Beam work on Beam's portable runner: a job service and an
external worker pool in processes of their own (the job API and worker
contract of the Flink and Spark runners), as docs/scale-out.md starts them.
The run blesses and pushes, and its ExampleGen statistics and Evaluator
metrics (our custom ones included) equal those of the in-process run."""

import contextlib
import os
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2

from conftest import SHORT_TRAINING, imdb_tfx
from imdb_tfx import run_info
from imdb_tfx.core import names
from imdb_tfx.outcome import evaluation
from imdb_tfx.pipeline import beam, configs

pytestmark = pytest.mark.slow

BIN = os.path.dirname(sys.executable)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('localhost', 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, open(log).read()[-3000:]
        with contextlib.suppress(OSError), socket.create_connection(('localhost', port), timeout=1):
            return
        time.sleep(0.5)
    pytest.fail(f'nothing listens on {port}: {open(log).read()[-3000:]}')


@contextlib.contextmanager
def _service(folder, name: str, module: str, port_flag: str, env: dict):
    port, log = _free_port(), os.path.join(folder, f'{name}.log')
    with open(log, 'w') as out:
        process = subprocess.Popen(
            [sys.executable, '-m', module, f'{port_flag}={port}'], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        _wait_for(port, process, log)
        yield port, log
    finally:
        process.terminate()
        process.wait(timeout=60)


def _pool_env(**changes) -> dict:
    """The worker pool's environment as docs/scale-out.md gives it: this
    project's Python first on PATH (the pool starts workers with `python`)
    and beam.WORKER_ENVIRONMENT; CHANGES break it on purpose."""
    env = {k: v for k, v in os.environ.items() if k not in beam.WORKER_ENVIRONMENT}
    env.update(beam.WORKER_ENVIRONMENT, PATH=f'{BIN}{os.pathsep}{os.environ["PATH"]}')
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture(scope='module')
def job_service(tmp_path_factory):
    folder = tmp_path_factory.mktemp('job-service')
    module = 'apache_beam.runners.portability.local_job_service_main'
    with _service(folder, 'job-service', module, '--port', _pool_env()) as (port, log):
        yield port, log


def _worker_pool(folder, env):
    return _service(folder, 'worker-pool', 'apache_beam.runners.worker.worker_pool_main', '--service_port', env)


def _portable(job_port: int, pool_port: int) -> list:
    return [
        f'--beam-arg={arg}'
        for arg in (
            '--runner=PortableRunner',
            f'--job_endpoint=localhost:{job_port}',
            '--environment_type=EXTERNAL',
            f'--environment_config=localhost:{pool_port}',
        )
    ]


@pytest.fixture(scope='module')
def portable_run(tmp_path_factory, job_service, prepared_sample, tiny_embedding):
    folder = tmp_path_factory.mktemp('portable')
    with _worker_pool(folder, _pool_env()) as (pool_port, pool_log):
        args = ['--data', prepared_sample, '--hub', tiny_embedding, *SHORT_TRAINING]
        result = imdb_tfx('run', '--home', str(folder / 'home'), *args, *_portable(job_service[0], pool_port))
        with open(pool_log) as f:
            pool = f.read()
    store = run_info.open_store(str(folder / 'home' / 'metadata.sqlite'))
    return dict(result=result, run=run_info.load_run(store, configs.PIPELINE_NAME), pool=pool)


def test_the_run_blesses_and_pushes_on_the_worker_pool(portable_run):
    result, run = portable_run['result'], portable_run['run']
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert 'Checking the environment of the Beam workers (PortableRunner)' in result.stdout
    assert run.output('Pusher', 'pushed_model').properties['pushed'] == 1
    # The check and each Beam component's work started workers of the pool.
    assert portable_run['pool'].count('Starting worker') >= 4


def _statistics(run, split):
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    path = os.path.join(run.output('StatisticsGen', 'statistics').uri, f'Split-{split}', 'FeatureStats.pb')
    with tf.io.gfile.GFile(path, 'rb') as f:
        stats.ParseFromString(f.read())
    return stats


def test_statistics_and_metrics_equal_the_in_process_run(portable_run, pipeline_runs):
    portable, in_process = portable_run['run'], pipeline_runs['first_run']
    for split in names.LABELLED_SPLITS:
        assert _statistics(portable, split) == _statistics(in_process, split), split
    ours = evaluation.overall_metrics(portable.output('Evaluator', 'evaluation').uri).by_model
    theirs = evaluation.overall_metrics(in_process.output('Evaluator', 'evaluation').uri).by_model
    assert ours.keys() == theirs.keys()
    for model in ours:
        assert names.EXPECTED_CALIBRATION_ERROR in ours[model]  # a custom metric, computed on the pool
        assert ours[model] == pytest.approx(theirs[model], abs=1e-6), model


def test_a_pool_without_the_keras_setting_is_named_before_any_work(job_service, tmp_path, prepared_sample):
    with _worker_pool(tmp_path, _pool_env(TF_USE_LEGACY_KERAS=None)) as (pool_port, _):
        home = tmp_path / 'home'
        result = imdb_tfx('run', '--data', prepared_sample, '--home', str(home), *_portable(job_service[0], pool_port))
    assert result.returncode == 2, result.stderr[-3000:]
    [line] = result.stderr.strip().splitlines()
    assert line.startswith('error: Beam workers (--runner=PortableRunner ')
    assert "TF_USE_LEGACY_KERAS is None, must be '1' from its start" in line
    assert not os.path.exists(home / 'metadata.sqlite')  # no run started


@pytest.mark.parametrize('python', ['/usr/bin/python3', None], ids=['without-the-project', 'none'])
def test_a_pool_whose_python_is_not_the_projects_is_named(job_service, tmp_path, prepared_sample, python):
    # The `python` first on the pool's PATH is another one (no worker can start), or there is none.
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    if python:
        os.symlink(python, bin_dir / 'python')
    with _worker_pool(tmp_path, _pool_env(PATH=f'{bin_dir}:/nonexistent')) as (pool_port, _):
        home = str(tmp_path / 'home')
        result = imdb_tfx('run', '--data', prepared_sample, '--home', home, *_portable(job_service[0], pool_port))
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-3000:]
    line = result.stderr.strip()
    assert 'first python on its PATH' in line if python else 'no `python` on its PATH' in line
