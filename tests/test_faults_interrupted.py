"""Faults end to end, runs that stop midway (docs/failures.md):
killed in the Trainer, interrupted by Ctrl-C or SIGTERM, and a
second run on a busy home, through the `imdb-tfx` console script on the
committed sample of real reviews. Each test works on its own copy of the
shared runs' home, so that most components come from the cache and only what
the fault touches runs again. (Damaged state and flaky I/O:
tests/test_faults_damaged.py; two files so that the two test workers share
the fault scenarios.)"""

import glob
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import IMDB_TFX, constant_model, imdb_tfx, newest_run, run_args
from imdb_tfx import run_info
from imdb_tfx.core import atomic, serving
from imdb_tfx.core.home import Home
from imdb_tfx.pipeline import configs

# Until a killed or interrupted run reaches the Trainer: training on the
# sample takes 10-30 s, the components before it come from the cache.
WAIT_SECONDS = 300
# A new model, trained once (no self-training rounds, no refit): for the
# tests that need the Trainer to run, not what it trains.
NEW_MODEL = ('--seed', '7', '--self-training-confidence', '0', '--no-refit')


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


def test_a_busy_home_refuses_a_second_run_and_a_run_killed_in_the_trainer_resumes_from_the_cache(
    own_home, prepared_sample, tiny_embedding, tmp_path
):
    versions = serving.versions(own_home.serving_dir)
    args = run_args(own_home, prepared_sample, tiny_embedding, *NEW_MODEL)
    # Trains for minutes (no early stopping), so that the kill lands in the
    # Trainer however long the busy-home checks take; then the test's short
    # training runs again.
    killed = start(*args, '--epochs', '1000', '--early-stopping-patience', '0')
    wait_for_the_trainer(own_home, killed)
    holder = open(own_home.lock_path).read()
    assert f'(pid {killed.pid},' in holder

    # While it trains, the home is busy: a second run is refused before any
    # work, naming the holder; another home is not held, a rollback there goes ahead.
    second = imdb_tfx(*run_args(own_home, prepared_sample, tiny_embedding))
    other = Home.at(str(tmp_path / 'other'))
    for probability in (0.25, 0.75):
        serving.publish(constant_model(str(tmp_path / f'm{probability}'), probability), other.serving_dir)
    rollback = imdb_tfx('rollback', '--home', other.root)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == (
        f'error: {own_home.root}: in use by {holder.strip()}; wait for it to finish, or use another --home'
    )
    assert rollback.returncode == 0, rollback.stderr

    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    killed_run = newest_run(own_home)
    assert killed_run.nodes['Trainer'].state == 'RUNNING'  # as the kill left it
    assert serving.versions(own_home.serving_dir) == versions

    rerun = imdb_tfx(*args)  # the killed run's lock was released with it; the Trainer runs again

    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    run = newest_run(own_home)
    assert run.run_id != killed_run.run_id
    assert f'Run {run.run_id}\n' in rerun.stdout and f'Report: {own_home.reports_dir}/{run.run_id}.html' in rerun.stdout
    store = run_info.open_store(own_home.metadata_path)
    assert len(run_info.run_ids(store, configs.PIPELINE_NAME)) == 4  # the shared two, the killed one, the rerun
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
