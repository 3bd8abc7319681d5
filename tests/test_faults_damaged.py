"""Faults end to end, damaged state and flaky I/O (docs/failures.md):
a partial run after a configuration fix, an unwritable, damaged
or foreign serving directory, a damaged metadata store and a transient I/O
error, through the `imdb-tfx` console script on the committed sample of real
reviews, each on its own copy of the shared runs' home. (Runs that stop
midway: tests/test_faults_interrupted.py.)"""

import hashlib
import os
import re
import shutil
import sqlite3

import pytest

from conftest import constant_model, imdb_tfx, newest_run, run_args
from imdb_tfx.core import serving


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
    [line] = predict.stderr.splitlines()  # what else it ignored is in its one error line
    assert line.startswith(f'error: {foreign}: not a model of this pipeline (no serving_default or serving_text')
    assert line.endswith('; ignored: 9999999998 (a file where a version folder should be) and 2 more')

    rollback = imdb_tfx('rollback', '--home', own_home.root, '--to', os.path.basename(foreign))
    assert rollback.returncode == 2
    assert f'error: {foreign}: not a model of this pipeline (' in rollback.stderr
    assert rollback.stderr.rstrip().endswith('; not rolling back to it')
    rollback = imdb_tfx('rollback', '--home', own_home.root, '--to', os.path.basename(ours))
    assert rollback.returncode == 0, rollback.stderr
    predict = imdb_tfx('predict', '--home', own_home.root, 'A wonderful film.')
    assert predict.returncode == 0 and predict.stdout.endswith('\tA wonderful film.\n')
    # Going on, it names each entry it ignored.
    assert f'Note: {serving_dir}/9999999999: no saved_model.pb: an incomplete or foreign version; ignored' in (
        predict.stderr
    )
    assert f'Note: {serving_dir}/latest: not a version number; ignored' in predict.stderr
    assert f'Note: {serving_dir}/9999999998: a file where a version folder should be; ignored' in predict.stderr
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
from imdb_tfx.core import serving
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
