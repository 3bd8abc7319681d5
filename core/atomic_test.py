"""Whole or nothing: core/atomic.py. Folders are replaced on local disk (where
its users build them); files and checks work on TensorFlow's in-memory
filesystem too (ram://, which stands in for object storage)."""

import os
import uuid

import pytest
from tfx.dsl.io import fileio

from imdb_tfx.core import atomic
from imdb_tfx.core.errors import UserInputError


@pytest.fixture(params=['local', 'ram'])
def root(request, tmp_path) -> str:
    return str(tmp_path) if request.param == 'local' else f'ram://{uuid.uuid4().hex}'


def _read(path: str) -> str:
    with fileio.open(path) as f:
        return f.read()


def _write(path: str, text: str) -> None:
    fileio.makedirs(os.path.dirname(path))
    with fileio.open(path, 'w') as f:
        f.write(text)


def test_a_built_folder_replaces_the_previous_one_whole(tmp_path):
    root = str(tmp_path)
    target = f'{root}/out'
    with atomic.replacing_dir(target) as staging:
        _write(f'{staging}/a.txt', 'first')
    with atomic.replacing_dir(target) as staging:
        assert not fileio.exists(f'{target}/b.txt')  # the previous one stays until the new one is whole
        _write(f'{staging}/b.txt', 'second')
    assert sorted(fileio.listdir(target)) == ['b.txt']
    assert _read(f'{target}/b.txt') == 'second'
    assert [e.rstrip('/') for e in fileio.listdir(root)] == ['out']  # nothing hidden left beside it


def test_a_failed_build_leaves_the_previous_folder_and_nothing_else(tmp_path):
    root = str(tmp_path)
    target = f'{root}/out'
    with atomic.replacing_dir(target) as staging:
        _write(f'{staging}/a.txt', 'kept')
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic.replacing_dir(target) as staging:
            _write(f'{staging}/half.txt', 'half')
            raise RuntimeError('disk full')
    assert sorted(fileio.listdir(target)) == ['a.txt']
    assert atomic.leftovers(root) == []


def test_leftovers_are_the_hidden_siblings_a_killed_write_leaves(root):
    target = f'{root}/1700000000'
    staging = atomic.staging_path(target)
    fileio.makedirs(staging)
    fileio.makedirs(f'{root}/1700000001')
    fileio.makedirs(f'{root}/.unrelated')
    assert os.path.basename(staging).startswith('.1700000000.building-')
    assert atomic.leftovers(root) == [staging]


def test_write_text_replaces_a_file_whole(root):
    path = f'{root}/reports/run.html'
    atomic.write_text(path, 'one')
    atomic.write_text(path, 'two')
    assert _read(path) == 'two'
    assert fileio.listdir(f'{root}/reports') == ['run.html']


def test_only_an_empty_folder_or_a_previous_output_is_replaceable(root):
    def is_output(path):
        return fileio.exists(f'{path}/MANIFEST')

    atomic.check_replaceable(f'{root}/missing', is_output, 'an output')
    fileio.makedirs(f'{root}/empty')
    atomic.check_replaceable(f'{root}/empty', is_output, 'an output')
    _write(f'{root}/previous/MANIFEST', '{}')
    atomic.check_replaceable(f'{root}/previous', is_output, 'an output')
    _write(f'{root}/home/notes.txt', 'keep me')
    with pytest.raises(UserInputError, match='home: exists and is not an output; not replacing it'):
        atomic.check_replaceable(f'{root}/home', is_output, 'an output')
    _write(f'{root}/file', 'x')
    with pytest.raises(UserInputError, match='file: exists and is not an output'):
        atomic.check_replaceable(f'{root}/file', is_output, 'an output')


def test_a_place_where_nothing_can_be_written_is_a_user_error(tmp_path):
    (tmp_path / 'a-file').write_text('x')
    with pytest.raises(UserInputError, match='cannot create the output'):
        with atomic.replacing_dir(str(tmp_path / 'a-file' / 'out')):
            pass


def test_removing_a_folder_never_follows_a_link_out_of_it(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep.txt').write_text('not ours')
    target = str(tmp_path / 'out')
    with atomic.replacing_dir(target) as staging:
        os.symlink(str(outside), f'{staging}/link')  # the previous output, set aside and removed below
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic.replacing_dir(target) as staging:  # a failed build, removed
            os.symlink(str(outside), f'{staging}/link')
            raise RuntimeError('disk full')
    with atomic.replacing_dir(target) as staging:
        _write(f'{staging}/a.txt', 'new')

    assert (outside / 'keep.txt').read_text() == 'not ours'
    assert sorted(os.listdir(target)) == ['a.txt']
    assert atomic.leftovers(str(tmp_path)) == []
