"""Converts the IMDB reviews into gzip'd TFRecords of tf.Example, the pipeline's input.

Sources: the Stanford aclImdb archive (.tar.gz, full or train-only), its extracted
directory, a tfds `imdb_reviews` (plain_text) data directory, or any folder of TFRecord
files of tf.Example (gzip'd or not, any names, under train/, test/, unsup/ or flat),
whose examples are passed on unchanged. Output:

    OUTPUT/train/data-00000-of-00010.tfrecord.gz ...   labelled: text, label, rating, movie_id
    OUTPUT/test/...                                    only when the source has a test split
    OUTPUT/unsup/...                                   unlabelled reviews: no label, no rating
    OUTPUT/manifest.json                               written last; marks a complete output

tfds records carry only text and label. Records go round-robin over the shards in input
order (archive member order, sorted names for a directory), so the same input always
gives byte-identical files: TFRecordWriter's GZIP header has mtime 0 and no file name,
and examples are serialized with deterministic map order.
"""

import bz2
import contextlib
import gzip
import hashlib
import itertools
import json
import logging
import lzma
import os
import re
import tarfile
import time
import zlib

import google_crc32c
import tensorflow as tf
from google.protobuf.message import DecodeError

from imdb_tfx.core import atomic, names
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.limits import MAX_ENTRIES, MAX_ID_DIGITS, MAX_REVIEW_BYTES, MAX_URLS_BYTES

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = 'manifest.json'
FEATURE_TYPES = {
    names.TEXT_FEATURE: 'bytes',
    names.LABEL_FEATURE: 'int64',
    names.RATING_FEATURE: 'int64',
    names.MOVIE_FEATURE: 'bytes',
}

_LABELS = {'neg': 0, 'pos': 1}
_RATINGS = {'neg': range(1, 5), 'pos': range(7, 11), 'unsup': range(0, 1)}
# aclImdb names are handled relative to the aclImdb/ folder, e.g. "train/pos/0_9.txt".
_REVIEW = re.compile(r'(train|test)/(pos|neg|unsup)/([^/]+)')
_URLS = re.compile(r'(train|test)/urls_(pos|neg|unsup)\.txt')
_REVIEW_FILE = re.compile(r'([0-9]+)_([0-9]+)\.txt')
_MOVIE_ID = re.compile(r'/title/(tt[0-9]+)/')
_TFDS_FILE = re.compile(r'imdb_reviews-(train|test|unsupervised)\.tfrecord-([0-9]+)-of-([0-9]+)')
_TFDS_SPLITS = {'train': 'train', 'test': 'test', 'unsupervised': 'unsup'}
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)
_NOT_A_SOURCE = (
    'not an aclImdb archive/directory (needs aclImdb/train/pos+neg or aclImdb/test/pos+neg),'
    ' nor a tfds imdb_reviews data dir (imdb_reviews-*.tfrecord-* files),'
    ' nor a folder of TFRecord files of tf.Example (under train/, test/, unsup/, or flat)'
)
# A folder of the user's own TFRecords: these subfolders are splits, else every file is train.
_TFRECORD_SPLITS = ('train', 'test', 'unsup')
_GZIP_MAGIC = b'\x1f\x8b'
_PROGRESS_EVERY = 10_000
_NON_UTF8_EXAMPLES = 5

# Ten shards per split: with --split source the pipeline's valid split is the
# first train shard (pipeline.SOURCE_VALID_PATTERN), 10% of train.
NUM_SHARDS = 10


def prepare(
    source: str,
    output: str,
    num_shards: int = NUM_SHARDS,
    max_review_bytes: int = MAX_REVIEW_BYTES,
    max_entries: int = MAX_ENTRIES,
    max_urls_bytes: int = MAX_URLS_BYTES,
) -> dict:
    """Converts SOURCE to gzip'd TFRecords of tf.Example under OUTPUT; returns the manifest
    dict. A review over MAX_REVIEW_BYTES, a urls file over MAX_URLS_BYTES or a source of
    more than MAX_ENTRIES entries is a UserInputError. Links in the source (symlinks, and
    an archive's hard links) are skipped and counted in the manifest's skipped_links."""
    reader = open_source(
        source, max_review_bytes=max_review_bytes, max_entries=max_entries, max_urls_bytes=max_urls_bytes
    )
    if num_shards < 1:
        raise UserInputError(f'num_shards: must be at least 1, got {num_shards}')
    output = os.path.abspath(output)
    # Only an empty folder or a previous output may be replaced (not, say, a mistyped $HOME).
    atomic.check_replaceable(output, is_output=is_prepared, what='a prepare-data output')
    started = time.monotonic()
    log.info('Converting %s (%s) into %s', source, reader.format, output)
    manifest = {
        'format_version': FORMAT_VERSION,
        'source': {'path': os.path.abspath(source), 'sha256': reader.fingerprint(), 'format': reader.format},
        'num_shards': num_shards,
    }
    with atomic.replacing_dir(output) as tmp:
        texts = TextDecoder()
        manifest['splits'] = write_splits(reader.records(texts), tmp, num_shards)
        manifest['non_utf8_reviews'] = texts.non_utf8
        manifest['skipped_links'] = reader.skipped_links
        texts.warn()
        with open(os.path.join(tmp, MANIFEST), 'w', encoding='utf-8') as f:
            f.write(json.dumps(manifest, indent=2, sort_keys=True) + '\n')
    counts = ', '.join(f'{s}={v["examples"]}' for s, v in manifest['splits'].items())
    log.info('Wrote %s (%s) in %.1f s', output, counts, time.monotonic() - started)
    return manifest


def upload(prepared: str, url: str) -> None:
    """Copies a prepared folder to object storage (gs://, s3://), where no
    rename is atomic: the manifest, which marks an output complete (see
    is_prepared), goes last, and a previous output loses it first."""
    from tfx.dsl.io import fileio  # deferred: TensorFlow's file layer is a heavy import

    if fileio.exists(url) and fileio.listdir(url):
        if not fileio.exists(f'{url.rstrip("/")}/{MANIFEST}'):
            raise UserInputError(f'{url}: exists and is not a prepare-data output; not replacing it')
        fileio.remove(f'{url.rstrip("/")}/{MANIFEST}')
        fileio.rmtree(url)
    names = sorted(os.path.relpath(os.path.join(d, f), prepared) for d, _, files in os.walk(prepared) for f in files)
    for name in sorted(names, key=lambda n: n == MANIFEST):
        target = f'{url.rstrip("/")}/{name}'
        fileio.makedirs(os.path.dirname(target))
        fileio.copy(os.path.join(prepared, name), target, overwrite=True)


def source_fingerprint(source: str) -> str:
    """sha256 hex of the source's content (archive bytes; for a directory, of its relevant
    files' relative paths + bytes in sorted order), used as a cache key and recorded in the
    manifest."""
    return open_source(source).fingerprint()


def is_prepared(path: str) -> bool:
    """True when PATH is a complete output of prepare() in the current format."""
    try:
        manifest = read_manifest(path)
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get('format_version') == FORMAT_VERSION


def read_manifest(path: str) -> dict:
    with open(os.path.join(path, MANIFEST), encoding='utf-8') as f:
        return json.load(f)


# --- sources ---------------------------------------------------------------------------


class _Bounds:
    """The limits a source is read within (see MAX_REVIEW_BYTES)."""

    def __init__(self, max_review_bytes, max_entries, max_urls_bytes):
        for name, value in (
            ('max_review_bytes', max_review_bytes),
            ('max_entries', max_entries),
            ('max_urls_bytes', max_urls_bytes),
        ):
            if value < 1:
                raise UserInputError(f'{name}: must be at least 1, got {value}')
        self.review_bytes, self.entries, self.urls_bytes = max_review_bytes, max_entries, max_urls_bytes

    def bytes_for(self, name):
        """(bound, what) for the aclImdb file NAME."""
        if _URLS.fullmatch(name):
            return self.urls_bytes, 'urls file'
        if _REVIEW.fullmatch(name):
            return self.review_bytes, 'review'
        # Any other file (README, imdb.vocab): no larger than the largest bound.
        return max(self.review_bytes, self.urls_bytes), 'file'

    def check_size(self, size, name, where):
        bound, what = self.bytes_for(name)
        if size > bound:
            raise UserInputError(f'{where}: {what} is over the bound of {bound} bytes (got {size})')

    def check_entries(self, count, where):
        if count > self.entries:
            raise UserInputError(f'{where}: more than the bound of {self.entries} entries')


def open_source(source, max_review_bytes=MAX_REVIEW_BYTES, max_entries=MAX_ENTRIES, max_urls_bytes=MAX_URLS_BYTES):
    """The reader of SOURCE: .format, .fingerprint(), .records(texts) and, once
    records() is done, .skipped_links."""
    bounds = _Bounds(max_review_bytes, max_entries, max_urls_bytes)
    if not os.path.exists(source):
        raise UserInputError(f'{source}: does not exist')
    if os.path.isfile(source):
        return _ArchiveSource(source, bounds)
    if not os.path.isdir(source):  # a device or a pipe: it cannot be read twice (fingerprint, records)
        raise UserInputError(f'{source}: not a regular file or a folder')
    root = _find_aclimdb_root(source)
    if root:
        return _DirectorySource(root, bounds)
    tfds_files, links = _find_tfds_files(source)
    if tfds_files:
        return _TfdsSource(tfds_files, links, bounds)
    tfrecord_files, links = _find_tfrecord_files(source)
    if tfrecord_files:
        return _TfRecordSource(tfrecord_files, links, bounds)
    raise UserInputError(f'{source}: {_NOT_A_SOURCE}')


def _find_aclimdb_root(path):
    """The aclImdb folder: PATH/aclImdb, or PATH itself when it holds train/ or test/ reviews."""
    nested = os.path.join(path, 'aclImdb')
    if os.path.isdir(nested) and not os.path.islink(nested):  # a link is not followed, as below it
        return nested
    for split in ('train', 'test'):
        if any(os.path.isdir(os.path.join(path, split, f)) for f in _LABELS):
            return path
    return None


def _sha256_file(path, digest=None):
    digest = digest or hashlib.sha256()
    try:
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
    except OSError as exc:
        raise UserInputError(f'{path}: cannot read ({exc.strerror})') from exc
    return digest


def _sha256_named_files(named_paths):
    """Hashes (name, path) pairs in order; names and lengths are framed so no two inputs collide."""
    digest = hashlib.sha256()
    for name, path in named_paths:
        digest.update(os.fsencode(name) + b'\0' + os.path.getsize(path).to_bytes(8, 'big'))
        _sha256_file(path, digest)
    return digest.hexdigest()


class _AclImdbSource:
    """The aclImdb layout; subclasses provide entries(), where() and fingerprint(), and
    count the links they skip in skipped_links."""

    skipped_links = 0

    def records(self, texts):
        """Yields (split, tf.Example). Pass 1 reads the urls files, which archives store
        after the reviews; pass 2 streams the reviews one at a time."""
        movie_ids = self._scan()
        for name, data in self.entries(wanted=_REVIEW.fullmatch):
            if data is not None:
                yield self._review_example(name, data, movie_ids, texts)

    def _scan(self):
        """Pass 1: checks the layout; returns {(split, folder): [movie_id of review id i]}."""
        folders, movie_ids = set(), {}
        for name, data in self.entries(wanted=_URLS.fullmatch):
            review = _REVIEW.fullmatch(name)
            if review:
                folders.add(review.group(1, 2))
            elif data is not None:
                movie_ids[_URLS.fullmatch(name).group(1, 2)] = self._parse_urls(name, data)
        self._check_layout(folders, movie_ids)
        log.info('Found %s', ', '.join(f'{s}/{f}' for s, f in sorted(folders)))
        return movie_ids

    def _check_layout(self, folders, movie_ids):
        labelled = {split for split, folder in folders if folder in _LABELS}
        if not labelled:
            raise UserInputError(f'{self.path}: {_NOT_A_SOURCE}')
        for split in sorted(labelled):
            for folder in _LABELS:
                if (split, folder) not in folders:
                    raise UserInputError(f'{self.where(f"{split}/{folder}")}: missing or empty')
        for split, folder in sorted(folders):
            if (split, folder) not in movie_ids:
                urls = self.where(f'{split}/urls_{folder}.txt')
                raise UserInputError(f'{urls}: missing (needed for the movie ids of {folder})')

    def _parse_urls(self, name, data):
        """Line i is the URL of review id i: http://www.imdb.com/title/tt0453418/usercomments."""
        try:
            lines = data.decode('utf-8').splitlines()
        except UnicodeDecodeError as exc:
            raise UserInputError(f'{self.where(name)}: not UTF-8 ({exc.reason})') from exc
        movie_ids = []
        for number, line in enumerate(lines, start=1):
            match = _MOVIE_ID.search(line)
            if not match:
                raise UserInputError(f'{self.where(name)}: line {number} has no IMDb title id (tt...)')
            movie_ids.append(match.group(1).encode('ascii'))
        return movie_ids

    def _review_example(self, name, data, movie_ids, texts):
        split, folder, file_name = _REVIEW.fullmatch(name).groups()
        where = self.where(name)
        match = _REVIEW_FILE.fullmatch(file_name)
        if not match:
            raise UserInputError(f'{where}: review file name is not <id>_<rating>.txt')
        if len(match.group(1)) > MAX_ID_DIGITS or len(match.group(2)) > MAX_ID_DIGITS:
            raise UserInputError(f'{where}: review id or rating is over the bound of {MAX_ID_DIGITS} digits')
        review_id, rating = int(match.group(1)), int(match.group(2))
        allowed = _RATINGS[folder]
        if rating not in allowed:
            raise UserInputError(f'{where}: rating {rating} is outside {allowed[0]}-{allowed[-1]} for {folder}')
        movies = movie_ids[(split, folder)]
        if review_id >= len(movies):
            urls = self.where(f'{split}/urls_{folder}.txt')
            raise UserInputError(f'{urls}: no line for review id {review_id} ({name})')
        text = texts.decode(data, where)
        if folder == 'unsup':  # rating 0 means "not rated": unlabelled reviews carry neither
            return 'unsup', _example(text=text, movie_id=movies[review_id])
        return split, _example(text=text, label=_LABELS[folder], rating=rating, movie_id=movies[review_id])


class _ArchiveSource(_AclImdbSource):
    format = 'aclimdb-archive'

    def __init__(self, path, bounds):
        self.path = path
        self.bounds = bounds
        _check_archive_complete(path)

    def where(self, name):
        return f'aclImdb/{name} in {self.path}'

    def fingerprint(self):
        return _sha256_file(self.path).hexdigest()

    def entries(self, wanted):
        """Streams (name, bytes or None) over the archive's files; bytes only when wanted(name).
        Links are skipped (and counted): a member's bytes are its own."""
        count = links = 0
        try:
            with _open_tar(self.path) as tar:
                while (member := _next_member(tar)) is not None:
                    # Streaming: no member is looked up again, so the list that tarfile keeps
                    # of them is dropped, and memory stays flat however many there are.
                    tar.members.clear()
                    count += 1
                    self.bounds.check_entries(count, self.path)
                    inside = member.name.removeprefix('./').startswith('aclImdb/')
                    name = member.name.removeprefix('./').removeprefix('aclImdb/')
                    if member.isfile():
                        # Every member's size, read or not: tarfile skips an unread one block
                        # by block, and a header can claim exabytes.
                        where = self.where(name) if inside else f'{member.name} in {self.path}'
                        self.bounds.check_size(member.size, name, where)
                    if not inside:
                        continue
                    if member.issym() or member.islnk():
                        links += 1
                    elif member.isfile():
                        yield name, self._read(tar, member, name) if wanted(name) else None
        except _ARCHIVE_ERRORS as exc:
            raise UserInputError(f'{self.path}: unreadable or truncated archive ({exc})') from exc
        self.skipped_links = links

    def _read(self, tar, member, name):
        where = self.where(name)  # the header's size is checked already (entries)
        bound, _ = self.bounds.bytes_for(name)
        data = tar.extractfile(member).read(bound + 1)
        self.bounds.check_size(len(data), name, where)
        return data


_COMPRESSED = ((b'\x1f\x8b', gzip.open), (b'BZh', bz2.open), (b'\xfd7zXZ\x00', lzma.open))
_TAR_END = bytes(2 * tarfile.BLOCKSIZE)  # a tar ends with two zero blocks


def _check_archive_complete(path):
    """An archive cut short is refused, not read as a smaller one: tarfile's
    stream mode checks neither the compressed stream's end nor the tar's end
    blocks. One pass of decompression, a second or two for the full archive."""
    with open(path, 'rb') as f:
        magic = f.read(6)
    opener = next((open_ for prefix, open_ in _COMPRESSED if magic.startswith(prefix)), open)
    tail = b''
    try:
        with opener(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                tail = (tail + block)[-len(_TAR_END) :]
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise UserInputError(f'{path}: unreadable or truncated archive ({exc})') from exc
    if tail != _TAR_END:
        raise UserInputError(f"{path}: unreadable or truncated archive (it lacks a tar's two end blocks)")


def _open_tar(path):
    # Python 3.10's stream mode raises AttributeError or TypeError on some damaged
    # gzip headers (a bug of tarfile._Stream): they mean a damaged archive too.
    try:
        return tarfile.open(path, 'r|*')
    except (AttributeError, TypeError) as exc:
        raise tarfile.ReadError(f'damaged compressed stream: {exc}') from exc


def _next_member(tar):
    try:
        return tar.next()
    except (AttributeError, TypeError) as exc:
        raise tarfile.ReadError(f'damaged compressed stream: {exc}') from exc


class _DirectorySource(_AclImdbSource):
    format = 'aclimdb-directory'

    def __init__(self, root, bounds):
        self.path = root
        self.bounds = bounds
        self.names, self.skipped_links = _list_aclimdb(root, bounds)

    def where(self, name):
        return os.path.join(self.path, name)

    def fingerprint(self):
        return _sha256_named_files((name, self.where(name)) for name in self.names)

    def entries(self, wanted):
        for name in self.names:
            if not wanted(name):
                yield name, None
                continue
            where = self.where(name)
            bound, _ = self.bounds.bytes_for(name)
            try:
                # O_NOFOLLOW: a file swapped for a link since the listing is not followed either.
                with open(os.open(where, os.O_RDONLY | os.O_NOFOLLOW), 'rb') as f:
                    self.bounds.check_size(os.fstat(f.fileno()).st_size, name, where)
                    data = f.read(bound + 1)
            except OSError as exc:
                raise UserInputError(f'{where}: cannot read ({exc.strerror})') from exc
            self.bounds.check_size(len(data), name, where)
            yield name, data


def _list_aclimdb(root, bounds):
    """(sorted names of the review and urls files under ROOT, the aclImdb folder; the
    number of links skipped). Links below ROOT, to files or folders, are not followed,
    as the archive source skips link members: a source's reviews are the files in it."""
    names, links, count = [], 0, 0

    def scan(folder):
        nonlocal links, count
        with os.scandir(folder) as entries:
            for entry in entries:
                count += 1
                bounds.check_entries(count, root)
                if entry.is_symlink():
                    links += 1
                else:
                    yield entry

    for split in ('train', 'test'):
        split_dir = os.path.join(root, split)
        if os.path.islink(split_dir):
            links += 1
            continue
        if not os.path.isdir(split_dir):
            continue
        for entry in scan(split_dir):
            if entry.is_dir(follow_symlinks=False) and entry.name in _RATINGS:
                names += [
                    f'{split}/{entry.name}/{review.name}'
                    for review in scan(entry.path)
                    if review.is_file(follow_symlinks=False)
                ]
            elif entry.is_file(follow_symlinks=False) and _URLS.fullmatch(f'{split}/{entry.name}'):
                names.append(f'{split}/{entry.name}')
    return sorted(names), links


def _walk_without_links(root):
    """(folder, file names) under ROOT, as os.walk, and the number of links met: a
    symlinked file or folder is neither read nor entered (a source's records are the
    files in it, as with the aclImdb sources)."""
    found, links = [], 0
    for folder, dir_names, file_names in os.walk(root):
        links += sum(os.path.islink(os.path.join(folder, d)) for d in dir_names)
        unlinked = [n for n in file_names if not os.path.islink(os.path.join(folder, n))]
        links += len(file_names) - len(unlinked)
        # Regular files only: a FIFO or a device named like a shard would block or never end.
        found.append((folder, [n for n in unlinked if os.path.isfile(os.path.join(folder, n))]))
    return found, links


def _find_tfds_files(root):
    """([(split, path)] of the imdb_reviews TFRecord shards under ROOT, in split and shard
    order; the number of links skipped)."""
    walked, links = _walk_without_links(root)
    found = [(folder, name) for folder, file_names in walked for name in file_names if _TFDS_FILE.fullmatch(name)]
    folders = sorted({folder for folder, _ in found})
    if len(folders) > 1:
        raise UserInputError(f'{root}: imdb_reviews TFRecords in several folders ({", ".join(folders)}); pass one')
    shards = {}  # {tfds split: {shard index: (shard total, path)}}
    for folder, name in found:
        split, index, total = _TFDS_FILE.fullmatch(name).groups()
        if len(index) > MAX_ID_DIGITS or len(total) > MAX_ID_DIGITS:
            raise UserInputError(f'{os.path.join(folder, name)}: shard number over {MAX_ID_DIGITS} digits')
        shards.setdefault(split, {})[int(index)] = (int(total), os.path.join(folder, name))
    for split, by_index in shards.items():
        total = next(iter(by_index.values()))[0]
        if sorted(by_index) != list(range(total)) or any(t != total for t, _ in by_index.values()):
            raise UserInputError(f'{folders[0]}: incomplete {split} shards (expected {total})')
    if not shards.keys() & {'train', 'test'}:
        return [], links
    files = [
        (_TFDS_SPLITS[split], by_index[i][1]) for split, by_index in sorted(shards.items()) for i in sorted(by_index)
    ]
    return files, links


class _TfdsSource:
    format = 'tfds-imdb_reviews'

    def __init__(self, files, skipped_links, bounds):
        self.files = files
        self.skipped_links = skipped_links
        self.bounds = bounds
        self.path = os.path.dirname(files[0][1])

    def fingerprint(self):
        return _sha256_named_files((os.path.basename(p), p) for _, p in self.files)

    def records(self, texts):
        for split, path in self.files:
            for index, serialized in enumerate(_read_tfrecords(path, self.bounds)):
                yield split, _tfds_example(split, serialized, f'{path}: record {index}', texts, self.bounds)


def _find_tfrecord_files(root):
    """([(split, path)] of a folder of TFRecord files: ROOT/train/, test/ and unsup/ when
    any exists, else every file directly in ROOT as train; the number of links skipped).
    Hidden files and the manifest of another tool are skipped."""
    links = 0

    def files(folder):
        nonlocal links
        kept = []
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.islink(path):
                links += 1
            elif not name.startswith('.') and name != MANIFEST and os.path.isfile(path):
                kept.append(path)
        return kept

    splits = [s for s in _TFRECORD_SPLITS if os.path.isdir(os.path.join(root, s))]
    links += sum(os.path.islink(os.path.join(root, s)) for s in splits)
    splits = [s for s in splits if not os.path.islink(os.path.join(root, s))]
    if splits:
        found = [(s, path) for s in splits for path in files(os.path.join(root, s))]
    else:
        found = [('train', path) for path in files(root)]
    return found, links


def _compression(path):
    with open(path, 'rb') as f:
        return 'GZIP' if f.read(2) == _GZIP_MAGIC else ''


class _TfRecordSource:
    """The user's own tf.Examples, gzip'd or not, passed on as they are once the features
    the pipeline reads have their types (the data gate judges the rest against the schema)."""

    format = 'tfrecords'

    def __init__(self, files, skipped_links, bounds):
        self.files = files
        self.skipped_links = skipped_links
        self.bounds = bounds

    def fingerprint(self):
        return _sha256_named_files((f'{split}/{os.path.basename(p)}', p) for split, p in self.files)

    def records(self, texts):
        del texts  # passed on unchanged
        for split, path in self.files:
            for index, serialized in enumerate(_read_tfrecords(path, self.bounds, _compression(path))):
                where = f'{path}: record {index}'
                try:
                    example = tf.train.Example.FromString(serialized)
                except DecodeError as exc:
                    raise UserInputError(f'{where}: not a tf.Example') from exc
                _check_features(example, where, self.bounds)
                yield split, example


def _check_features(example, where, bounds):
    """The features the pipeline reads, if there, have one value of their type; the
    text, which it always reads, is there and within the review bound."""
    feature = example.features.feature
    if names.TEXT_FEATURE not in feature:
        raise UserInputError(f"{where}: no '{names.TEXT_FEATURE}' feature")
    for name, kind in FEATURE_TYPES.items():
        if name not in feature:
            continue
        found = feature[name].WhichOneof('kind')
        values = getattr(feature[name], found).value if found else []
        if found != f'{kind}_list' or len(values) != 1:
            got = f'{len(values)} {found.replace("_list", "")} values' if found else 'no value'
            raise UserInputError(f"{where}: '{name}' must be one {kind} value, got {got}")
    if len(feature[names.TEXT_FEATURE].bytes_list.value[0]) > bounds.review_bytes:
        raise UserInputError(f'{where}: review is over the bound of {bounds.review_bytes} bytes')
    label = feature[names.LABEL_FEATURE].int64_list.value if names.LABEL_FEATURE in feature else [0]
    if label[0] not in (0, 1):
        raise UserInputError(f"{where}: '{names.LABEL_FEATURE}' {label[0]} is not 0 or 1")


# Bytes a record may hold besides its review's text: the other features.
_RECORD_OVERHEAD = 1 << 20


def _read_tfrecords(path, bounds, compression=''):
    _check_record_lengths(path, compression, bounds.review_bytes + _RECORD_OVERHEAD)
    try:
        # As bytes: a file name need not be UTF-8, and TensorFlow's strings are bytes.
        yield from tf.data.TFRecordDataset(os.fsencode(path), compression_type=compression).as_numpy_iterator()
    except tf.errors.OpError as exc:
        raise UserInputError(f'{path}: unreadable TFRecord file ({exc.message})') from exc


def _check_record_lengths(path, compression, bound):
    """TensorFlow's reader allocates what a record's length field claims, and a
    claim of tens of GiB (with a valid checksum) crashes the process: a length
    over BOUND is refused first, from the records' headers alone, and so is a
    gzip stream that is damaged or cut short. A header whose checksum is wrong
    is left to TensorFlow's reader, which names it."""
    try:
        with gzip.open(path, 'rb') if compression == 'GZIP' else open(path, 'rb') as f:
            for index in itertools.count():
                header = f.read(12)  # uint64 length, uint32 masked CRC-32C of it
                if len(header) < 12 or _masked_crc32c(header[:8]) != int.from_bytes(header[8:], 'little'):
                    return
                length = int.from_bytes(header[:8], 'little')
                if length > bound:
                    raise UserInputError(f'{path}: record {index} claims {length} bytes, over the bound of {bound}')
                f.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # TensorFlow's GZIP reader takes a stream cut short for a shorter file.
        raise UserInputError(f'{path}: unreadable TFRecord file (damaged or truncated gzip: {exc})') from exc
    except OSError:
        return


def _masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C, rotated right by 15 bits plus a constant."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _tfds_example(split, serialized, where, texts, bounds):
    """Re-encodes a tfds plain_text example; the unsupervised split's label is -1 and is dropped."""
    try:
        feature = tf.train.Example.FromString(serialized).features.feature
    except DecodeError as exc:
        raise UserInputError(f'{where}: not a tf.Example') from exc
    text = feature[names.TEXT_FEATURE].bytes_list.value if names.TEXT_FEATURE in feature else []
    label = feature[names.LABEL_FEATURE].int64_list.value if names.LABEL_FEATURE in feature else []
    if len(text) != 1:
        raise UserInputError(f"{where}: no single bytes '{names.TEXT_FEATURE}' (only plain_text is supported)")
    if len(text[0]) > bounds.review_bytes:
        raise UserInputError(f'{where}: review is over the bound of {bounds.review_bytes} bytes (got {len(text[0])})')
    if split == 'unsup':
        return _example(text=texts.decode(text[0], where))
    if len(label) != 1:
        raise UserInputError(f"{where}: no single int64 '{names.LABEL_FEATURE}'")
    if label[0] not in (0, 1):
        raise UserInputError(f'{where}: label {label[0]} is not 0 or 1')
    return _example(text=texts.decode(text[0], where), label=label[0])


# --- examples and writing --------------------------------------------------------------


class TextDecoder:
    """Checks review bytes: invalid UTF-8 is replaced by U+FFFD and counted (real reviews
    are worth keeping), an empty review is an error (it means a broken source)."""

    def __init__(self):
        self.non_utf8 = 0
        self.non_utf8_examples = []

    def decode(self, data, where):
        try:
            text = data.decode('utf-8')
        except UnicodeDecodeError:
            text = data.decode('utf-8', errors='replace')
            self.non_utf8 += 1
            if len(self.non_utf8_examples) < _NON_UTF8_EXAMPLES:
                self.non_utf8_examples.append(where)
        if not text.strip():
            raise UserInputError(f'{where}: empty review')
        return text.encode('utf-8')

    def warn(self):
        if self.non_utf8:
            log.warning(
                '%d reviews were not valid UTF-8 (bad bytes replaced by U+FFFD), e.g. %s',
                self.non_utf8,
                '; '.join(self.non_utf8_examples),
            )


def _example(**values):
    feature = {}
    for name, value in values.items():
        if isinstance(value, bytes):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_splits(records, out_dir, num_shards):
    """Writes (split, example) pairs round-robin over each split's shards; returns the
    manifest's per-split entries (examples, labels, features, files)."""
    splits, writers = {}, {}
    with contextlib.ExitStack() as stack:
        for total, (split, example) in enumerate(records, start=1):
            if split not in writers:
                splits[split] = _split_entry(split, example, num_shards)
                os.makedirs(os.path.join(out_dir, split))
                writers[split] = [
                    stack.enter_context(tf.io.TFRecordWriter(os.path.join(out_dir, f), 'GZIP'))
                    for f in splits[split]['files']
                ]
            entry = splits[split]
            writers[split][entry['examples'] % num_shards].write(example.SerializeToString(deterministic=True))
            entry['examples'] += 1
            labels = (
                example.features.feature[names.LABEL_FEATURE].int64_list.value
                if names.LABEL_FEATURE in example.features.feature
                else []
            )
            if len(labels) == 1:
                entry['labels'][str(labels[0])] = entry['labels'].get(str(labels[0]), 0) + 1
            if total % _PROGRESS_EVERY == 0:
                log.info('%d reviews written', total)
    return splits


def _split_entry(split, first_example, num_shards):
    """A split's manifest entry before any record is counted; all its examples share features."""
    return {
        'examples': 0,
        'labels': {},
        'features': {
            n: FEATURE_TYPES.get(n) or (f.WhichOneof('kind') or 'no value').replace('_list', '')
            for n, f in sorted(first_example.features.feature.items())
        },
        'files': [f'{split}/data-{i:05d}-of-{num_shards:05d}.tfrecord.gz' for i in range(num_shards)],
    }
