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
"""

import bisect
import collections
import json
import logging
import os
import re
from typing import Dict, List, Optional, Tuple

from imdb_tfx import prepare_data
from imdb_tfx.core import atomic, names
from imdb_tfx.core.errors import UserInputError

log = logging.getLogger(__name__)

SPANS_MANIFEST = 'spans.json'
MOVIES_FILE = 'movies.txt'  # a span's movie ids, one per line
FORMAT_VERSION = 1
_SPAN_DIR = re.compile(r'span-(\d+)')


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


def prepare_spans(source: str, output: str, spans: int, num_shards: int = prepare_data.NUM_SHARDS) -> dict:
    """Converts SOURCE into SPANS spans under OUTPUT (replaced whole); returns the spans manifest."""
    if spans < 1:
        raise UserInputError(f'--spans: must be at least 1, got {spans}')
    output = os.path.abspath(output)
    atomic.check_replaceable(output, is_output=is_spans, what='a prepare-data --spans output')
    reader = prepare_data.open_source(source)
    texts = prepare_data.TextDecoder()
    records = [(_labelled_or_unsup(split), example) for split, example in reader.records(texts)]
    texts.warn()
    movie_of = [_movie_id(example, source) for _, example in records]
    bounds = _cut_points([movie for (split, _), movie in zip(records, movie_of) if split == 'train'], spans, source)
    manifest = {'format_version': FORMAT_VERSION, 'spans': []}
    with atomic.replacing_dir(output) as tmp:
        for number in range(1, spans + 1):
            span_records = [record for record, movie in zip(records, movie_of) if _span_of(movie, bounds) == number]
            entry = _write_span(span_records, span_dir(tmp, number), num_shards, source, reader)
            manifest['spans'].append({'span': number, **entry})
        atomic.write_text(os.path.join(tmp, SPANS_MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + '\n')
    log.info('Wrote %d spans into %s', spans, output)
    return manifest


def ingest(source: str, data: str, num_shards: int = prepare_data.NUM_SHARDS) -> dict:
    """Appends SOURCE's reviews to the spans folder DATA as its next span (a
    missing or empty DATA starts at span 1); returns the span's manifest
    entry. The span appears whole (renamed into place), then spans.json names it."""
    if is_spans(data):
        manifest = read_manifest(data)
    elif not os.path.exists(data) or (os.path.isdir(data) and not os.listdir(data)):
        manifest = {'format_version': FORMAT_VERSION, 'spans': []}
    else:
        raise UserInputError(f'{data}: not a spans folder (make one with `imdb-tfx prepare-data SOURCE --spans K`)')
    number = max((entry['span'] for entry in manifest['spans']), default=0) + 1
    reader = prepare_data.open_source(source)
    texts = prepare_data.TextDecoder()
    records = [(_labelled_or_unsup(split), example) for split, example in reader.records(texts)]
    texts.warn()
    if not any(split == 'train' for split, _ in records):
        raise UserInputError(f'{source}: no labelled reviews, so it cannot be a span')
    target = span_dir(data, number)
    if os.path.exists(target):
        raise UserInputError(f'{target}: exists but spans.json does not name it; remove it first')
    with atomic.replacing_dir(target) as tmp:
        entry = {'span': number, **_write_span(records, tmp, num_shards, source, reader)}
    entry['movies_seen_before'] = _movies_seen_before(data, manifest, entry, records)
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
    return values[0].decode('ascii')


def _title_number(movie: str) -> Tuple[int, str]:
    digits = re.sub(r'\D', '', movie)
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


def _write_span(records, out_dir: str, num_shards: int, source: str, reader) -> Dict:
    """Writes one span as a prepare-data output (with its manifest); returns its spans.json entry."""
    os.makedirs(out_dir, exist_ok=True)
    splits = prepare_data.write_splits(iter(records), out_dir, num_shards)
    movies = sorted({m for _, e in records for m in e.features.feature[names.MOVIE_FEATURE].bytes_list.value})
    span_manifest = {
        'format_version': prepare_data.FORMAT_VERSION,
        'source': {'path': os.path.abspath(source), 'sha256': reader.fingerprint(), 'format': reader.format},
        'num_shards': num_shards,
        'splits': splits,
        'non_utf8_reviews': 0,
    }
    with open(os.path.join(out_dir, MOVIES_FILE), 'w', encoding='ascii') as f:
        f.writelines(m.decode('ascii') + '\n' for m in movies)
    with open(os.path.join(out_dir, prepare_data.MANIFEST), 'w', encoding='utf-8') as f:
        f.write(json.dumps(span_manifest, indent=2, sort_keys=True) + '\n')
    return {
        'source': os.path.abspath(source),
        'labelled': splits.get('train', {}).get('examples', 0),
        'unlabeled': splits.get('unsup', {}).get('examples', 0),
        'labels': splits.get('train', {}).get('labels', {}),
        'movies': len(movies),
        'first_movie': movies[0].decode('ascii') if movies else None,
        'last_movie': movies[-1].decode('ascii') if movies else None,
    }


def _movies_seen_before(data: str, manifest: dict, entry: dict, records) -> int:
    """How many of the new span's movies an earlier span already had (a new
    source may repeat movies; the pipeline still splits each span by movie)."""
    new = {m.decode('ascii') for _, e in records for m in e.features.feature[names.MOVIE_FEATURE].bytes_list.value}
    seen = set()
    for number in [entry['span'] for entry in manifest['spans']]:
        with open(os.path.join(span_dir(data, number), MOVIES_FILE), encoding='ascii') as f:
            seen.update(f.read().split())
    overlap = len(new & seen)
    if overlap:
        log.warning('span %d: %d of its %d movies were in earlier spans', entry['span'], overlap, len(new))
    return overlap
