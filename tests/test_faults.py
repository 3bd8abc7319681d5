"""Faults end to end (README, "Failures and recovery"): runs killed,
interrupted, doubled, partial, retried, and a damaged serving directory or
metadata store, through the `imdb-tfx` console script on the committed
sample of real reviews. Each test works on its own copy of the shared runs'
home, so that most components come from the cache and only what the fault
touches runs again."""

import glob
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import IMDB_TFX, SHORT_TRAINING, constant_model, imdb_tfx
from core import atomic, serving
from core.home import Home
from imdb_tfx import run_info
from pipeline import configs

# Until a killed or interrupted run reaches the Trainer: training on the
# sample takes 10-30 s, the components before it come from the cache.
WAIT_SECONDS = 300
# A new model, trained once (no self-training rounds, no refit): for the
# tests that need the Trainer to run, not what it trains.
NEW_MODEL = ('--seed', '7', '--self-training-confidence', '0', '--no-refit')


def run_args(home: Home, data: str, hub: str, *options: str):
    return ['run', '--data', data, '--home', home.root, '--hub', hub, *SHORT_TRAINING, *options]


def start(*args: str) -> subprocess.Popen:
    """`imdb-tfx ARGS` in its own process group, as a terminal or CI job starts it."""
    return subprocess.Popen(
        [IMDB_TFX, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def wait_for_the_trainer(home: Home, process: subprocess.Popen) -> None:
    """Until the Trainer of a new execution is running (TFX made its output folders)."""
    before = set(glob.glob(os.path.join(home.pipeline_root, 'Trainer', 'model', '*')))
    deadline = time.monotonic() + WAIT_SECONDS
    while not set(glob.glob(os.path.join(home.pipeline_root, 'Trainer', 'model', '*'))) - before:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, 'the Trainer did not start'
        time.sleep(0.2)
    time.sleep(2)  # inside the training


def newest_run(home: Home) -> run_info.PipelineRun:
    return run_info.load_run(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME)


def test_a_run_killed_in_the_trainer_resumes_from_the_cache_and_pushes_once(own_home, prepared_sample, tiny_embedding):
    versions = serving.versions(own_home.serving_dir)
    args = run_args(own_home, prepared_sample, tiny_embedding, *NEW_MODEL)
    killed = start(*args)
    wait_for_the_trainer(own_home, killed)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    killed_run = newest_run(own_home)
    assert killed_run.nodes['Trainer'].state == 'RUNNING'  # as the kill left it
    assert serving.versions(own_home.serving_dir) == versions

    rerun = imdb_tfx(*args)  # the killed run's lock was released with it

    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    run = newest_run(own_home)
    assert run.run_id != killed_run.run_id and run.run_id in rerun.stdout
    reused = {'ImportExampleGen', 'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator', 'DataGate'}
    assert all(run.nodes[node].state == 'CACHED' for node in reused)
    said = re.search(r'^Reused from earlier runs \(ML Metadata cache\): (.+)$', rerun.stdout, re.M).group(1)
    assert reused <= set(said.split(', ')) and 'Trainer' not in said
    assert run.nodes['Trainer'].state == 'COMPLETE'
    # Nothing of the killed execution is used: the model is a new artifact in a new folder.
    killed_outputs = {a.uri for a in killed_run.nodes['Trainer'].outputs.get('model', [])}
    assert run.output('Trainer', 'model').uri not in killed_outputs
    assert len(serving.versions(own_home.serving_dir)) == len(versions) + 1  # pushed once
    assert atomic.leftovers(own_home.serving_dir) == []


@pytest.mark.parametrize('sent, code', [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=['ctrl-c', 'sigterm'])
def test_ctrl_c_or_sigterm_stops_the_run_at_once_and_says_where(own_home, prepared_sample, tiny_embedding, sent, code):
    versions = serving.versions(own_home.serving_dir)
    process = start(*run_args(own_home, prepared_sample, tiny_embedding, *NEW_MODEL))
    wait_for_the_trainer(own_home, process)
    if sent == signal.SIGINT:
        os.killpg(process.pid, sent)  # Ctrl-C: the terminal signals the whole group
    else:
        process.send_signal(sent)  # what Kubernetes or a CI runner sends to the process
    sent_at = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    stopped_in = time.monotonic() - sent_at

    assert process.returncode == code, stderr[-3000:]
    run = newest_run(own_home)
    assert f'Stopped by {sent.name} at Trainer, run {run.run_id}' in stderr
    assert '`imdb-tfx run` again resumes' in stderr
    # FAILED when TFX's launcher saw the stop, RUNNING when the watchdog ended
    # the process: either way never served from the cache.
    assert run.nodes['Trainer'].state in ('FAILED', 'RUNNING')
    assert 'Pusher' not in run.nodes and serving.versions(own_home.serving_dir) == versions
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of the group is left (Beam, the canary's probe)
    assert stopped_in < 30, f'stopped {stopped_in:.1f} s after the signal'


def test_a_second_run_on_a_busy_home_is_refused_and_each_reports_its_own_run(
    own_home, prepared_sample, tiny_embedding, tmp_path
):
    versions = serving.versions(own_home.serving_dir)
    first = start(*run_args(own_home, prepared_sample, tiny_embedding, *NEW_MODEL))  # trains: holds the home a while
    deadline = time.monotonic() + WAIT_SECONDS
    while f'(pid {first.pid},' not in (open(own_home.lock_path).read() if os.path.exists(own_home.lock_path) else ''):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    holder = open(own_home.lock_path).read()
    first_id = re.match(r'run (\S+) \(imdb-tfx run\)', holder).group(1)

    second = imdb_tfx(*run_args(own_home, prepared_sample, tiny_embedding))
    # Another home is not held: a rollback there goes ahead meanwhile.
    other = Home.at(str(tmp_path / 'other'))
    for probability in (0.25, 0.75):
        serving.publish(constant_model(str(tmp_path / f'm{probability}'), probability), other.serving_dir)
    rollback = imdb_tfx('rollback', '--home', other.root)
    first_out, first_err = first.communicate(timeout=WAIT_SECONDS)

    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == (
        f'error: {own_home.root}: in use by {holder.strip()}; wait for it to finish, or use another --home'
    )
    assert rollback.returncode == 0, rollback.stderr
    assert first.returncode == 0, first_err[-3000:]
    assert f'Run {first_id}\n' in first_out and f'Report: {own_home.reports_dir}/{first_id}.html' in first_out
    store = run_info.open_store(own_home.metadata_path)
    assert newest_run(own_home).run_id == first_id and len(run_info.run_ids(store, configs.PIPELINE_NAME)) == 3
    assert len(serving.versions(own_home.serving_dir)) == len(versions) + 1  # pushed once


def test_a_partial_run_reruns_from_the_evaluator_on_the_previous_artifacts(own_home, prepared_sample, tiny_embedding):
    previous = newest_run(own_home)
    # As after fixing the Evaluator's configuration: a new floor, from the Evaluator on.
    result = imdb_tfx(
        *run_args(own_home, prepared_sample, tiny_embedding, '--min-accuracy', '0.55', '--from-node', 'Evaluator')
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = newest_run(own_home)
    assert run.nodes['Evaluator'].state == 'COMPLETE' and run.nodes['Pusher'].state == 'COMPLETE'
    assert run.nodes['Trainer'].state == 'CACHED'  # not run: the previous run's model
    assert run.output('Trainer', 'model').uri == previous.output('Trainer', 'model').uri
    assert 'Gate accuracy_floor: passed' in result.stdout and '0.55' in result.stdout


def test_an_unwritable_serving_directory_fails_the_push_in_one_line_and_is_left_as_it_was(
    own_home, prepared_sample, tiny_embedding
):
    # Where the serving directory should be, a file: nothing can be written there.
    shutil.rmtree(own_home.serving_dir)
    with open(own_home.serving_dir, 'w') as f:
        f.write('not a folder')

    result = imdb_tfx(*run_args(own_home, prepared_sample, tiny_embedding, '--retries', '0'))

    assert result.returncode == 1
    assert 'FAILED at Pusher' in result.stdout
    assert re.search(rf'pipeline failed: {re.escape(own_home.serving_dir)}: cannot push \S+: .+', result.stderr)
    assert 'Traceback' not in result.stderr.split('pipeline failed:')[-1]
    with open(own_home.serving_dir) as f:
        assert f.read() == 'not a folder'
    gate = imdb_tfx('gate', '--home', own_home.root)
    assert gate.returncode == 2 and 'FAILED at Pusher' in gate.stdout


def test_a_damaged_or_foreign_serving_directory_is_named_never_served(own_home, tmp_path):
    serving_dir = own_home.serving_dir
    ours = serving.newest(serving_dir)
    foreign = serving.publish(constant_model(str(tmp_path / 'theirs'), 0.5, signatures=('predict',)), serving_dir)
    os.makedirs(os.path.join(serving_dir, '9999999999', 'variables'))  # a half version, no saved_model.pb
    os.makedirs(os.path.join(serving_dir, 'latest'))
    with open(os.path.join(serving_dir, '9999999998'), 'w') as f:
        f.write('a file')

    predict = imdb_tfx('predict', '--home', own_home.root, 'A wonderful film.')
    assert predict.returncode == 2
    assert f'error: {foreign}: not a model of this pipeline (no serving_default or serving_text' in predict.stderr
    assert f'Note: {serving_dir}/9999999999: no saved_model.pb: an incomplete or foreign version; ignored' in (
        predict.stderr
    )
    assert f'Note: {serving_dir}/latest: not a version number; ignored' in predict.stderr
    assert f'Note: {serving_dir}/9999999998: a file where a version folder should be; ignored' in predict.stderr

    rollback = imdb_tfx('rollback', '--home', own_home.root, '--to', os.path.basename(foreign))
    assert rollback.returncode == 2
    assert f'error: {foreign}: not a model of this pipeline (' in rollback.stderr
    assert rollback.stderr.rstrip().endswith('; not rolling back to it')
    rollback = imdb_tfx('rollback', '--home', own_home.root, '--to', os.path.basename(ours))
    assert rollback.returncode == 0, rollback.stderr
    predict = imdb_tfx('predict', '--home', own_home.root, 'A wonderful film.')
    assert predict.returncode == 0 and predict.stdout.endswith('\tA wonderful film.\n')
    for result in (predict, rollback):
        assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('damage', ['truncated', 'not-sqlite', 'locked'])
def test_a_damaged_metadata_store_is_named_and_never_rewritten(own_home, prepared_sample, tiny_embedding, damage):
    path = own_home.metadata_path
    with open(path, 'rb') as f:  # before any lock: closing a file drops the process's SQLite locks on it
        before = hashlib.sha256(f.read()).hexdigest()
    holder = None
    if damage == 'truncated':
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 3)
    elif damage == 'not-sqlite':
        with open(path, 'wb') as f:
            f.write(b'<html>a proxy error page, saved in its place</html>\n' * 100)
    else:
        holder = sqlite3.connect(path)
        holder.execute('BEGIN EXCLUSIVE')  # another process writing, and not letting go
    if holder is None:
        with open(path, 'rb') as f:
            before = hashlib.sha256(f.read()).hexdigest()
    problem = {'truncated': 'truncated', 'not-sqlite': 'not a SQLite database', 'locked': 'locked by another process'}

    args = {
        'run': run_args(own_home, prepared_sample, tiny_embedding),
        'gate': ['gate', '--home', own_home.root],
        'report': ['report', '--home', own_home.root],
    }
    # The check is one function (core/metadata_store_test.py): one command per damage shows it is called.
    commands = {'truncated': ['run', 'gate'], 'not-sqlite': ['report'], 'locked': ['gate']}[damage]
    try:
        results = {command: imdb_tfx(*args[command]) for command in commands}
    finally:
        if holder:
            holder.rollback()
            holder.close()

    for command, result in results.items():
        output = result.stdout + result.stderr
        assert result.returncode == 2, (command, output[-2000:])
        assert f'{path}: the ML Metadata store is {problem[damage]}' in output, (command, output[-2000:])
        assert 'Traceback' not in output, command
    with open(path, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == before


def test_a_transient_io_error_is_retried_and_the_report_shows_it(own_home, prepared_sample, tiny_embedding, tmp_path):
    # A fault injected from outside: the first look at the serving directory
    # in the process tree fails with an I/O error, as a flaky disk or network
    # would make it, so the ServingBaseline component fails once.
    hooks = tmp_path / 'hooks'
    hooks.mkdir()
    (hooks / 'sitecustomize.py').write_text(
        f"""
import errno, os
from core import serving
_newest, _marker = serving.newest, {str(tmp_path / 'failed-once')!r}
def newest(serving_dir):
    if not os.path.exists(_marker):
        open(_marker, 'w').close()
        raise OSError(errno.EIO, 'injected I/O error', serving_dir)
    return _newest(serving_dir)
serving.newest = newest
"""
    )

    result = imdb_tfx(
        *run_args(own_home, prepared_sample, tiny_embedding),
        env={'PYTHONPATH': f'{hooks}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'},
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    first, second = re.findall(r'^Run (\S+)$', result.stdout, re.M)
    assert re.search(
        rf'^Retry 1 of 1: run {re.escape(first)} failed at ServingBaseline with a transient error '
        r'\(OSError: .*injected I/O error',
        result.stdout,
        re.M,
    )
    run = newest_run(own_home)
    assert run.run_id == second and run.nodes['ServingBaseline'].state == 'COMPLETE'
    assert run.nodes['Pusher'].state == 'COMPLETE'
    with open(os.path.join(own_home.reports_dir, f'{second}.html'), encoding='utf-8') as f:
        assert f'run {first} failed at ServingBaseline with a transient error' in f.read()
