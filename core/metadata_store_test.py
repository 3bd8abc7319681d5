"""A damaged store is named and left as it is (core/metadata_store.py)."""

import hashlib
import sqlite3

import pytest
from tfx import v1 as tfx

from imdb_tfx.core import metadata_store
from imdb_tfx.core.errors import UserInputError


@pytest.fixture
def store(tmp_path) -> str:
    """A real ML Metadata store, as LocalDagRunner creates it."""
    import ml_metadata as mlmd

    path = str(tmp_path / 'metadata.sqlite')
    mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(path))
    return path


def digest(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_a_whole_store_and_a_missing_one_pass(store, tmp_path):
    metadata_store.check(store)
    metadata_store.check(str(tmp_path / 'none.sqlite'))  # a new home


@pytest.mark.parametrize(
    'damage, problem',
    [
        (lambda data: data[: len(data) // 2], 'truncated'),
        (lambda data: b'', 'an empty file, not an ML Metadata store'),
        (lambda data: b'{"not": "sqlite"}\n' * 20, 'not a SQLite database'),
        (lambda data: data[:100] + b'\x00' * (len(data) - 100), 'damaged'),
    ],
    ids=['truncated', 'empty', 'not-sqlite', 'zeroed-pages'],
)
def test_a_damaged_store_is_named_and_left_as_it_is(store, damage, problem):
    with open(store, 'rb') as f:
        data = f.read()
    with open(store, 'wb') as f:
        f.write(damage(data))
    before = digest(store)
    with pytest.raises(UserInputError) as error:
        metadata_store.check(store)
    assert str(error.value).startswith(f'{store}: the ML Metadata store is ') and problem in str(error.value)
    assert '\n' not in str(error.value)
    assert digest(store) == before


def test_a_store_locked_by_another_process_is_named(store, monkeypatch):
    monkeypatch.setattr(metadata_store, '_LOCK_TIMEOUT_SECONDS', 0.2)
    holder = sqlite3.connect(store)
    holder.execute('BEGIN EXCLUSIVE')
    try:
        assert metadata_store.problem(store).startswith('locked by another process')
    finally:
        holder.rollback()
        holder.close()
    assert metadata_store.problem(store) is None


WEIRD = 'we?ird#home%41'  # a URI's query, fragment and escape, if left unescaped


def test_a_damaged_store_at_a_path_with_uri_characters_is_named_and_nothing_is_created(store, tmp_path):
    """The check opens exactly that file, read-only: not another one (created
    empty beside it, writable, and whole, so a damaged store passed)."""
    home = tmp_path / WEIRD
    home.mkdir()
    path = str(home / 'metadata.sqlite')
    with open(store, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:100] + b'\x00' * (len(data) - 100))  # a whole header, zeroed pages
    before, files = digest(path), sorted(p.name for p in tmp_path.rglob('*'))
    with pytest.raises(UserInputError) as error:
        metadata_store.check(path)
    assert str(error.value).startswith(f'{path}: the ML Metadata store is damaged (')
    assert sorted(p.name for p in tmp_path.rglob('*')) == files
    assert digest(path) == before


def test_a_whole_store_at_a_path_with_uri_characters_passes_and_is_left_as_it_is(store, tmp_path, monkeypatch):
    home = tmp_path / WEIRD
    home.mkdir()
    path = home / 'metadata.sqlite'
    with open(store, 'rb') as f:
        path.write_bytes(f.read())
    before, files = digest(path), sorted(p.name for p in tmp_path.rglob('*'))
    metadata_store.check(str(path))
    monkeypatch.chdir(tmp_path)  # and named relatively
    metadata_store.check(f'{WEIRD}/metadata.sqlite')
    assert sorted(p.name for p in tmp_path.rglob('*')) == files
    assert digest(path) == before
