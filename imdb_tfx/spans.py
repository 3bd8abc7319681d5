"""Reviews as numbered spans, the way new data arrives: `prepare-data --spans K`
cuts a source into K spans by movie, `ingest` appends the next span.

    DATA/span-1/train/...  unsup/...  manifest.json    a prepare-data output each
    DATA/span-2/...
    DATA/spans.json                                    written last: the spans and their sources

Movies are ordered by IMDb title id (ids grow with the time a title was
added, so older films come first) and cut into K runs of about equal
labelled reviews: every span brings movies no earlier span had, like new
releases. A span's labelled reviews are all in train/ (the pipeline splits
each span into train, valid and eval by movie); its unlabeled reviews are
those of the same movies. The pipeline reads `span-{SPAN}` (core/names.py).

`ingest` (and `prepare-data --spans` over an existing folder) holds the
folder for its whole run: an flock on DATA/.ingest.lock, which a second one
finds taken and stops at once (run it again later). The lock file is hidden
and not a span: readers go by spans.json and `span-N` folders only.
"""

import bisect
import collections
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import stat
from typing import Dict, Iterator, List, Optional, Tuple

from imdb_tfx import prepare_data
from imdb_tfx.core import atomic, names
from imdb_tfx.core.errors import UserInputError

log = logging.getLogger(__name__)

SPANS_MANIFEST = 'spans.json'
# Movie ids are written one per line into MOVIES_FILE: no spaces, and short enough
# that their digits make a title number.
_MOVIE_ID = re.compile(rb'[!-~]{1,64}')
MOVIES_FILE = 'movies.txt'  # a span's movie ids, one per line
FORMAT_VERSION = 1
LOCK_FILE = '.ingest.lock'  # flock'ed while ingest or prepare-data --spans writes the folder


def span_dir(data: str, span: int) -> str:
    return os.path.join(data, names.SPAN_DIR_PATTERN.replace('{SPAN}', str(span)))


def is_spans(path: str) -> bool:
    """True when PATH is a complete spans folder (its manifest is written last)."""
    try:
        return read_manifest(path).get('format_version') == FORMAT_VERSION
    except (OSError, ValueError, AttributeError):
        return False


def read_manifest(data: str) -> dict:
    with open(os.path.join(data, SPANS_MANIFEST), encoding='utf-8') as f:
        return json.load(f)


def span_numbers(data: str) -> List[int]:
    return [entry['span'] for entry in read_manifest(data)['spans']]


def _is_empty(path: str) -> bool:
    """A folder with nothing in it but (maybe) the lock file."""
    return os.path.isdir(path) and not [e for e in os.listdir(path) if e != LOCK_FILE]


@contextlib.contextmanager
def _locked(data: str) -> Iterator[None]:
    """Holds the spans folder DATA (an existing folder) for one writer: an
    exclusive flock on DATA/.ingest.lock, opened without following a link and
    never truncated, released when the block ends (or the process dies). A
    folder another writer holds is a UserInputError at once."""
    path = os.path.join(data, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        reason = 'is a symbolic link' if e.errno == errno.ELOOP else f'cannot be opened ({e.strerror})'
        raise UserInputError(f"{path}: {reason}, not the spans folder's lock file; remove it") from None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink > 1:
            kind = 'not a regular file' if not stat.S_ISREG(found.st_mode) else 'a file with other names (a hard link)'
            raise UserInputError(f"{path}: is {kind}, not the spans folder's lock file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            now = os.stat(path, follow_symlinks=False)
        except (BlockingIOError, FileNotFoundError):
            now = None
        if now is None or (now.st_dev, now.st_ino) != (found.st_dev, found.st_ino):
            # Taken, or the file was replaced since it was opened (its folder replaced whole).
            raise UserInputError(f'{data}: another ingest (or prepare-data --spans) holds it; run this one again later')
        yield
    finally:
        os.close(fd)  # releases the flock


def prepare_spans(
    source: str, output: str, spans: int, num_shards: int = prepare_data.NUM_SHARDS, bounds: Optional[dict] = None
) -> dict:
    """Converts SOURCE into SPANS spans under OUTPUT (replaced whole); returns the spans manifest.
    BOUNDS: prepare_data.open_source's max_* keywords."""
    if spans < 1:
        raise UserInputError(f'--spans: must be at least 1, got {spans}')
    output = os.path.abspath(output)
    with contextlib.ExitStack() as held:
        if os.path.isdir(output):
            # Before locking: no lock file is ever made in a folder that is not ours to replace.
            _check_replaceable(output)
            held.enter_context(_locked(output))
        _check_replaceable(output)
        return _prepare_spans(source, output, spans, num_shards, bounds or {})


def _check_replaceable(output: str) -> None:
    atomic.check_replaceable(
        output, is_output=lambda p: is_spans(p) or _is_empty(p), what='a prepare-data --spans output'
    )


def _prepare_spans(source: str, output: str, spans: int, num_shards: int, bounds: dict) -> dict:
    """Two passes over the source, one record in memory at a time: the movies
    first (where to cut), then the reviews into their spans."""
    reader = prepare_data.open_source(source, **bounds)
    texts = prepare_data.TextDecoder()
    keys = [(_labelled_or_unsup(split), _movie_id(example, source)) for split, example in reader.records(texts)]
    texts.warn()
    cuts = _cut_points([movie for split, movie in keys if split == 'train'], spans, source)
    movies_of = collections.defaultdict(set)
    for _, movie in keys:
        movies_of[_span_of(movie, cuts)].add(movie)
    del keys
    records = (
        (f'{_span_name(_span_of(_movie_id(example, source), cuts))}/{_labelled_or_unsup(split)}', example)
        for split, example in reader.records(prepare_data.TextDecoder())
    )
    manifest = {'format_version': FORMAT_VERSION, 'spans': []}
    with atomic.replacing_dir(output) as tmp:
        splits = prepare_data.write_splits(records, tmp, num_shards)
        for number in range(1, spans + 1):
            entry = _finish_span(
                span_dir(tmp, number), _splits_of(splits, number), movies_of[number], num_shards, source, reader
            )
            manifest['spans'].append({'span': number, **entry})
        atomic.write_text(os.path.join(tmp, SPANS_MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + '\n')
    log.info('Wrote %d spans into %s', spans, output)
    return manifest


def _span_name(number: int) -> str:
    return names.SPAN_DIR_PATTERN.replace('{SPAN}', str(number))


def _splits_of(splits: dict, number: int) -> dict:
    """Span NUMBER's entries of write_splits' result over all spans, as its own manifest has them."""
    prefix = f'{_span_name(number)}/'
    return {
        key[len(prefix) :]: dict(entry, files=[f[len(prefix) :] for f in entry['files']])
        for key, entry in splits.items()
        if key.startswith(prefix)
    }


def ingest(source: str, data: str, num_shards: int = prepare_data.NUM_SHARDS) -> dict:
    """Appends SOURCE's reviews to the spans folder DATA as its next span (a
    missing or empty DATA starts at span 1); returns the span's manifest
    entry. The span appears whole (renamed into place), then spans.json names it.
    The folder is held (see _locked) from the first look to the last write; a
    folder this call made is removed again when it fails."""
    _check_ingestable(data)  # before the lock file is made
    made = not os.path.exists(data)
    try:
        os.makedirs(data, exist_ok=True)
    except OSError as e:
        raise UserInputError(f'{data}: cannot create the spans folder ({e.strerror})') from None
    with _locked(data):
        try:
            return _ingest(source, data, num_shards)
        except BaseException:
            if made and _is_empty(data):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(data, LOCK_FILE))  # still held: a later ingest sees a new file
                    os.rmdir(data)
            raise


def _check_ingestable(data: str) -> None:
    if not (is_spans(data) or not os.path.exists(data) or _is_empty(data)):
        raise UserInputError(f'{data}: not a spans folder (make one with `imdb-tfx prepare-data SOURCE --spans K`)')


def _ingest(source: str, data: str, num_shards: int) -> dict:
    _check_ingestable(data)  # again, holding the folder
    manifest = read_manifest(data) if is_spans(data) else {'format_version': FORMAT_VERSION, 'spans': []}
    number = max((entry['span'] for entry in manifest['spans']), default=0) + 1
    target = span_dir(data, number)
    if os.path.exists(target):
        raise UserInputError(f'{target}: exists but spans.json does not name it; remove it first')
    reader = prepare_data.open_source(source)
    texts = prepare_data.TextDecoder()
    movies = set()

    def records():  # streamed: one record in memory at a time
        for split, example in reader.records(texts):
            movies.add(_movie_id(example, source))
            yield _labelled_or_unsup(split), example

    with atomic.replacing_dir(target) as tmp:
        splits = prepare_data.write_splits(records(), tmp, num_shards)
        if 'train' not in splits:
            raise UserInputError(f'{source}: no labelled reviews, so it cannot be a span')
        entry = {'span': number, **_finish_span(tmp, splits, movies, num_shards, source, reader)}
    texts.warn()
    entry['movies_seen_before'] = _movies_seen_before(data, manifest, entry, movies)
    manifest['spans'].append(entry)
    atomic.write_text(os.path.join(data, SPANS_MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + '\n')
    return entry


def _labelled_or_unsup(split: str) -> str:
    """A span has no test split of its own: its labelled reviews are split by the pipeline."""
    return 'unsup' if split == 'unsup' else 'train'


def _movie_id(example, source: str) -> Optional[str]:
    values = example.features.feature[names.MOVIE_FEATURE].bytes_list.value
    if not values:
        raise UserInputError(
            f'{source}: a review without {names.MOVIE_FEATURE}, and spans are cut by movie '
            '(an aclImdb source has movie ids; tfds imdb_reviews does not)'
        )
    if not _MOVIE_ID.fullmatch(values[0]):
        raise UserInputError(
            f'{source}: {names.MOVIE_FEATURE} {values[0][:40]!r} is not a movie id (1 to 64 printable ASCII characters)'
        )
    return values[0].decode('ascii')


def _title_number(movie: str) -> Tuple[int, str]:
    digits = re.sub('[^0-9]', '', movie)
    return (int(digits) if digits else 0, movie)


def _cut_points(labelled_movies: List[str], spans: int, source: str) -> List[Tuple[int, str]]:
    """The first movie of spans 2..K: movies in title-id order, cut into runs
    of about equal labelled reviews."""
    counts = collections.Counter(labelled_movies)
    if len(counts) < spans:
        raise UserInputError(f'{source}: {len(counts)} movies with labelled reviews, fewer than {spans} spans')
    ordered = sorted(counts, key=_title_number)
    total, running, bounds = sum(counts.values()), 0, []
    for movie in ordered:
        # A new span starts at the first movie past its share of the reviews.
        if running >= total * (len(bounds) + 1) / spans and len(bounds) < spans - 1:
            bounds.append(_title_number(movie))
        running += counts[movie]
    return bounds


def _span_of(movie: str, bounds: List[Tuple[int, str]]) -> int:
    return bisect.bisect_right(bounds, _title_number(movie)) + 1


def _finish_span(out_dir: str, splits: dict, movies: set, num_shards: int, source: str, reader) -> Dict:
    """Writes the manifest and movie list of a span whose records OUT_DIR
    holds (SPLITS: their write_splits entries); returns its spans.json entry."""
    movies = sorted(movies)
    span_manifest = {
        'format_version': prepare_data.FORMAT_VERSION,
        'source': {'path': os.path.abspath(source), 'sha256': reader.fingerprint(), 'format': reader.format},
        'num_shards': num_shards,
        'splits': splits,
        'non_utf8_reviews': 0,
        'skipped_links': reader.skipped_links,
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, MOVIES_FILE), 'w', encoding='ascii') as f:
        f.writelines(m + '\n' for m in movies)
    with open(os.path.join(out_dir, prepare_data.MANIFEST), 'w', encoding='utf-8') as f:
        f.write(json.dumps(span_manifest, indent=2, sort_keys=True) + '\n')
    return {
        'source': os.path.abspath(source),
        'labelled': splits.get('train', {}).get('examples', 0),
        'unlabeled': splits.get('unsup', {}).get('examples', 0),
        'labels': splits.get('train', {}).get('labels', {}),
        'movies': len(movies),
        'first_movie': movies[0] if movies else None,
        'last_movie': movies[-1] if movies else None,
        'skipped_links': reader.skipped_links,
    }


def _movies_seen_before(data: str, manifest: dict, entry: dict, movies: set) -> int:
    """How many of the new span's movies an earlier span already had (a new
    source may repeat movies; the pipeline still splits each span by movie)."""
    seen = set()
    for number in [entry['span'] for entry in manifest['spans']]:
        with open(os.path.join(span_dir(data, number), MOVIES_FILE), encoding='ascii') as f:
            seen.update(f.read().split())
    overlap = len(movies & seen)
    if overlap:
        log.warning('span %d: %d of its %d movies were in earlier spans', entry['span'], overlap, len(movies))
    return overlap
