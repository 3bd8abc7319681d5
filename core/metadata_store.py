"""A home's ML Metadata store (SQLite), checked before any command opens it:
MLMD itself would turn an empty file into a new store, and fail on a damaged
one with a message that names neither the file nor the problem. The check
only reads (a read-only connection); nothing here writes, repairs or deletes
a store."""

import os
import sqlite3
import struct
import urllib.parse

from imdb_tfx.core.errors import UserInputError

_HEADER = b'SQLite format 3\x00'
_HEADER_SIZE = 100
# How long a read waits for another process's write lock before the store is
# called locked: MLMD holds that lock for one short transaction at a time, so
# a longer wait means another process keeps it.
_LOCK_TIMEOUT_SECONDS = 5.0


def check(path: str) -> None:
    """Raises a UserInputError naming PATH and its problem; the file is left
    as it is."""
    found = problem(path)
    if found:
        raise UserInputError(
            f'{path}: the ML Metadata store is {found}; it was left as it is '
            '(restore it from a backup, or move it aside to start a new store)'
        )


def problem(path: str) -> str | None:
    """What is wrong with the store at PATH, or None when it is missing (a
    new home) or a whole, readable SQLite database."""
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        return 'a folder, not an ML Metadata store'
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as f:
            header = f.read(_HEADER_SIZE)
    except OSError as e:
        return f'cannot be read ({e.strerror})'
    if size == 0:
        return 'an empty file, not an ML Metadata store'
    if not header.startswith(_HEADER):
        return 'not a SQLite database (not an ML Metadata store)'
    if len(header) < _HEADER_SIZE:
        return f'truncated ({size} bytes, less than a SQLite header)'
    page_size, pages = _page_size(header), struct.unpack('>I', header[28:32])[0]
    if pages and size < page_size * pages:
        return f'truncated ({size} bytes of the {page_size * pages} its header declares)'
    try:
        connection = sqlite3.connect(_read_only_uri(path), uri=True, timeout=_LOCK_TIMEOUT_SECONDS)
        try:
            rows = connection.execute('PRAGMA quick_check').fetchall()
        finally:
            connection.close()
    except sqlite3.OperationalError as e:
        if 'locked' in str(e) or 'busy' in str(e):
            return f'locked by another process ({e})'
        return f'damaged ({e})'
    except sqlite3.DatabaseError as e:
        return f'damaged ({e})'
    if rows != [('ok',)]:
        return f'damaged (integrity check: {rows[0][0]})'
    return None


def _read_only_uri(path: str) -> str:
    """A SQLite URI that opens exactly the file at PATH, read-only: every
    character but '/' is percent-encoded, so a '?', '#' or '%' in the path is
    part of the file's name, not the start of the URI's query, its fragment or
    an escape (which would open another file, created empty, writable)."""
    quoted = urllib.parse.quote(os.fsencode(os.path.abspath(path)), safe='/')
    return f'file:{quoted}?mode=ro'


def _page_size(header: bytes) -> int:
    size = struct.unpack('>H', header[16:18])[0]
    return 65536 if size == 1 else size
