"""Fuzz tests of prepare-data's input readers (Hypothesis).

Each case mutates a valid source of one kind (an aclImdb tar archive, an extracted
aclImdb folder, a tfds imdb_reviews folder, a folder of the user's TFRecords) into a
hostile-but-plausible one, and calls prepare_data.prepare in-process. The property:
either a complete output (manifest.json, every listed file, record counts as the
manifest says, nothing from the sentinel folder that links point to), or a one-line
UserInputError naming the source and no output; never another exception, and nothing
written outside the output.

`make test` runs FUZZ_READERS_CASES cases in all (300 unless set); the slow variants,
the same properties, run FUZZ_READERS_SLOW_CASES (2,000 unless set). Cases are
derandomized and no example database is kept, so every run replays the same cases.
"""

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import threading
from typing import NamedTuple

import pytest
import tensorflow as tf
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from imdb_tfx import prepare_data
from imdb_tfx.core.errors import UserInputError

SENTINEL = b'SENTINEL-planted-outside-the-source'
FAST_TOTAL = int(os.environ.get('FUZZ_READERS_CASES', '300'))
SLOW_TOTAL = int(os.environ.get('FUZZ_READERS_SLOW_CASES', '2000'))
# The aclImdb kinds have more to vary (names, urls, links), so they get more cases.
SHARES = {'archive': 0.3, 'folder': 0.3, 'tfds': 0.2, 'tfrecords': 0.2}
COMMON = dict(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


# --- TFRecord framing, written and read here so that damaged files can be made ---------


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def masked_crc(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record):
    length = struct.pack('<Q', len(record))
    return length + struct.pack('<I', masked_crc(length)) + record + struct.pack('<I', masked_crc(record))


def length_header(claimed, valid_crc):
    """A record header claiming CLAIMED bytes, followed by far fewer."""
    length = struct.pack('<Q', claimed)
    crc = masked_crc(length) ^ (0 if valid_crc else 1)
    return length + struct.pack('<I', crc) + b'abc'


def read_records(path):
    """The records of a gzip'd TFRecord file of prepare's output."""
    with gzip.open(path, 'rb') as f:
        data = f.read()
    records, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from('<Q', data, pos)
        records.append(data[pos + 12 : pos + 12 + length])
        pos += 16 + length
    return records


def example_bytes(features):
    """A serialized tf.Example of FEATURES, (name, kind, values) triples."""
    lists = {
        'bytes': lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=v)),
        'int64': lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=v)),
        'float': lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=v)),
        'empty': lambda v: tf.train.Feature(),
    }
    feature = {name: lists[kind](list(values)) for name, kind, values in features if kind in lists}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def record_bytes(record):
    kind, payload = record[0], record[1]
    if kind == 'raw':
        return payload
    data = example_bytes(payload)
    if kind == 'flipped':
        data = flip(data, *record[2:])
    return data


def flip(data, pos, xor):
    if not data:
        return data
    pos %= len(data)
    return data[:pos] + bytes([data[pos] ^ xor]) + data[pos + 1 :]


def apply_byte_op(data, op):
    """File-level damage: truncation, a flipped byte, garbage, gzip, a lying length field."""
    if op[0] == 'truncate':
        return data[: op[1] % (len(data) + 1)]
    if op[0] == 'flip':
        return flip(data, op[1], op[2])
    if op[0] == 'append':
        return data + op[1]
    if op[0] == 'gzip':
        return gzip.compress(data, mtime=0)
    if op[0] == 'length':
        return data + length_header(op[1], op[2])
    raise AssertionError(op)


# --- shared strategies ------------------------------------------------------------------

INDEX = st.integers(0, 63)  # taken modulo the number of members or files
POSITION = st.integers(0, 1 << 16)
XOR = st.integers(1, 255)
# Surrogate escapes (Cs) are the bytes of names that are not UTF-8.
NAME_TEXT = st.text(st.characters(exclude_characters='\x00/'), min_size=1, max_size=12)
SAFE_NAME = NAME_TEXT.filter(lambda n: n not in ('.', '..'))
REVIEW_BYTES = st.one_of(
    st.sampled_from([b'a fine film', b'', b' ', b'\n\t \r', b'\xff', b'caf\xe9', b'\xc3', b'\xef\xbb\xbf', b'\x00']),
    st.sampled_from(['\u00a0'.encode(), '\u200b'.encode(), b'x' * 100, SENTINEL[:9]]),
    st.binary(max_size=48),
    st.text(max_size=16).map(lambda t: t.encode('utf-8', 'surrogatepass')),
)
DIGITS = st.one_of(
    st.integers(0, 12).map(str),
    st.sampled_from(['', '007', '9' * 18, '9' * 19, '1' * 200, '\u0661', '\u0667', '\u00b2', '\U0001d7d7', '-1', '+7']),
    st.sampled_from([' 7', '7 ', '0x1']),
)
URL_LINE = st.one_of(
    st.integers(0, 10**9).map('http://www.imdb.com/title/tt{:07d}/usercomments'.format),
    st.sampled_from(['', 'http://x/1', '/title/tt/', '/title/tt\u0661\u0662/', '/title/tt0000001', '\r', '\x0b']),
    st.sampled_from(['\u2028', '\x1c', 'a/title/tt1/b/title/tt2/', '/title/tt' + '9' * 5000 + '/']),
    st.text(max_size=24),
)
URLS_BYTES = st.one_of(
    st.lists(URL_LINE, max_size=6).map(lambda lines: '\n'.join(lines).encode('utf-8', 'surrogatepass')),
    st.binary(max_size=32),
)
SPLIT = st.sampled_from(['train', 'test', 'unsup', 'Train', 'valid'])
FOLDER = st.sampled_from(['pos', 'neg', 'unsup', 'POS', 'misc'])
URLS_NAME = st.builds('{}/urls_{}.txt'.format, SPLIT, FOLDER)


def file_names(in_archive):
    """Review file names around <id>_<rating>.txt; IN_ARCHIVE adds names no folder can hold."""
    digits = st.one_of(DIGITS, st.just('1' * 5000)) if in_archive else DIGITS
    suffix = st.sampled_from(['.txt', '.TXT', '.txt.bak', '', '.txt ', '.txt\t'])
    odd = ['README', 'urls_pos.txt', '0_9.txt\x0b'] + (['..', '.'] if in_archive else [])
    return st.one_of(st.builds('{}_{}{}'.format, digits, digits, suffix), st.sampled_from(odd), SAFE_NAME)


def large_or_default(default, small):
    return st.one_of(st.just(default), st.sampled_from(small))


class Run(NamedTuple):
    """prepare()'s arguments besides the source, and what is at the output path before."""

    num_shards: int
    max_review_bytes: int
    max_entries: int
    max_urls_bytes: int
    output_state: str  # absent, empty, previous (an earlier output), foreign (not an output)


DEFAULT_BOUNDS = (prepare_data.MAX_REVIEW_BYTES, prepare_data.MAX_ENTRIES, prepare_data.MAX_URLS_BYTES)
# Half the cases keep the default bounds, so that they can get far enough to succeed.
BOUNDS = st.one_of(
    st.just(DEFAULT_BOUNDS),
    st.tuples(
        large_or_default(prepare_data.MAX_REVIEW_BYTES, [1, 8, 64]),
        large_or_default(prepare_data.MAX_ENTRIES, [1, 5, 30]),
        large_or_default(prepare_data.MAX_URLS_BYTES, [10, 200]),
    ),
)
RUNS = st.builds(
    lambda shards, bounds, state: Run(shards, *bounds, state),
    st.integers(1, 3),
    BOUNDS,
    st.sampled_from(['absent'] * 5 + ['empty', 'previous', 'foreign']),
)


def url_bytes(count, first=1):
    return ''.join(f'http://www.imdb.com/title/tt{first + i:07d}/usercomments\n' for i in range(count)).encode()


def base_aclimdb(splits, text=None):
    """A valid aclImdb layout, {name under aclImdb/: bytes}; TEXT(name) gives the reviews."""
    text = text or (lambda name: f'review {name}'.encode())
    files = {}
    for split in splits:
        for folder, ratings in (('neg', (1, 4)), ('pos', (10, 7))):
            for i, rating in enumerate(ratings):
                files[f'{split}/{folder}/{i}_{rating}.txt'] = text(f'{split}/{folder}/{i}')
            files[f'{split}/urls_{folder}.txt'] = url_bytes(len(ratings))
    files['train/unsup/0_0.txt'] = text('train/unsup/0')
    files['train/urls_unsup.txt'] = url_bytes(1, first=7)
    return files


# --- (a) archives -------------------------------------------------------------------------

PREFIX = st.sampled_from(
    ['aclImdb/', './aclImdb/', '/aclImdb/', '../aclImdb/', 'aclImdb/../aclImdb/', 'aclImdb/./', 'aclImdb//', 'x/']
)
MEMBER_NAMES = st.one_of(
    st.builds('{}{}/{}/{}'.format, PREFIX, SPLIT, FOLDER, file_names(in_archive=True)),
    st.builds('{}{}'.format, PREFIX, URLS_NAME),
    st.builds('{}{}'.format, PREFIX, st.text(st.characters(exclude_characters='\x00\n\r'), max_size=30)),
    st.sampled_from(['aclImdb/train/pos/\udcff_7.txt', 'aclImdb/train/pos/../neg/0_1.txt', 'aclImdb', '']),
)
ARCHIVE_LINKS = st.sampled_from(
    ['{outside}/secret.txt', '{outside}/aclImdb/train/pos/0_10.txt', '../../../outside/secret.txt']
    + ['aclImdb/train/pos/0_10.txt', 'aclImdb/train/urls_pos.txt', '', '/', '{outside}/aclImdb']
)
ARCHIVE_MUTATIONS = st.one_of(
    st.tuples(st.just('data'), INDEX, REVIEW_BYTES),
    st.tuples(st.just('rename'), INDEX, MEMBER_NAMES),
    st.tuples(st.just('add'), MEMBER_NAMES, REVIEW_BYTES),
    st.tuples(st.just('drop'), INDEX),
    st.tuples(st.just('urls'), st.builds('aclImdb/{}'.format, URLS_NAME), URLS_BYTES),
    st.tuples(st.just('link'), st.sampled_from(['symlink', 'hardlink']), MEMBER_NAMES, ARCHIVE_LINKS),
    st.tuples(st.just('special'), st.sampled_from(['dir', 'fifo', 'chr']), MEMBER_NAMES),
    st.tuples(st.just('size'), INDEX, st.sampled_from([0, 1, (1 << 20) + 1, 1 << 33, 8**11 - 1])),
)
ARCHIVE_DAMAGE = st.one_of(
    st.tuples(st.just('truncate'), POSITION),
    st.tuples(st.just('flip'), POSITION, XOR),
    st.tuples(st.just('append'), st.binary(max_size=16)),
)


class Archive(NamedTuple):
    splits: tuple
    mutations: tuple  # on the member list
    tar_format: str
    compression: str
    damage: tuple  # on the compressed bytes
    run: Run


ARCHIVES = st.builds(
    Archive,
    st.sampled_from([('train',), ('train', 'test')]),
    st.lists(ARCHIVE_MUTATIONS, max_size=4).map(tuple),
    st.sampled_from(['gnu', 'pax']),
    st.sampled_from(['gz', 'gz', 'tar', 'bz2', 'xz']),
    st.lists(ARCHIVE_DAMAGE, max_size=2).map(tuple),
    RUNS,
)


def archive_members(case):
    """[(type, name, data or link target, claimed size or None)] after the mutations."""
    members = [['file', f'aclImdb/{n}', d, None] for n, d in sorted(base_aclimdb(case.splits).items())]
    for mutation in case.mutations:
        kind, at = mutation[0], (mutation[1] % len(members) if members and isinstance(mutation[1], int) else None)
        if kind == 'data' and at is not None and members[at][0] == 'file':
            members[at][2] = mutation[2]
        elif kind == 'rename' and at is not None:
            members[at][1] = mutation[2]
        elif kind == 'drop' and at is not None:
            del members[at]
        elif kind == 'size' and at is not None:
            members[at][3] = mutation[2]
        elif kind in ('add', 'urls'):
            members.append(['file', mutation[1], mutation[2], None])
        elif kind == 'link':
            members.append([mutation[1], mutation[2], mutation[3], None])
        elif kind == 'special':
            members.append([mutation[1], mutation[2], b'', None])
    return members


_TAR_TYPES = {
    'file': tarfile.REGTYPE,
    'symlink': tarfile.SYMTYPE,
    'hardlink': tarfile.LNKTYPE,
    'dir': tarfile.DIRTYPE,
    'fifo': tarfile.FIFOTYPE,
    'chr': tarfile.CHRTYPE,
}


def tar_bytes(case, outside):
    raw = io.BytesIO()
    tar_format = {'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT}[case.tar_format]
    with tarfile.open(fileobj=raw, mode='w', format=tar_format, errors='surrogateescape') as tar:
        for kind, name, payload, claimed in archive_members(case):
            info = tarfile.TarInfo(name)
            info.type = _TAR_TYPES[kind]
            if kind in ('symlink', 'hardlink'):
                info.linkname = payload.replace('{outside}', outside)
                tar.addfile(info)
            elif kind != 'file':
                tar.addfile(info)
            elif claimed is None:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:  # a header whose size is not the data's: written by hand
                info.size = claimed
                tar.fileobj.write(info.tobuf(tar.format, tar.encoding, tar.errors))
                padded = payload + bytes(-len(payload) % tarfile.BLOCKSIZE)
                tar.fileobj.write(padded)
                tar.offset = tar.fileobj.tell()
    return raw.getvalue()


def build_archive(case, workspace, outside):
    compress = {
        'gz': lambda d: gzip.compress(d, mtime=0),
        'tar': lambda d: d,
        'bz2': bz2.compress,
        'xz': lzma.compress,
    }[case.compression]
    data = compress(tar_bytes(case, outside))
    for op in case.damage:
        data = apply_byte_op(data, op)
    source = os.path.join(workspace, 'src', 'aclImdb_v1.tar.gz')
    write_file(source, data)
    return source


# --- (b) extracted aclImdb folders ------------------------------------------------------

REL_PATHS = st.one_of(
    st.builds(lambda s, f, n: (s, f, n), SPLIT, FOLDER, file_names(in_archive=False)),
    st.builds(lambda s, f: (s, f'urls_{f}.txt'), SPLIT, FOLDER),
    st.lists(SAFE_NAME, min_size=1, max_size=3).map(tuple),
)
SUBFOLDERS = ['train', 'test', 'train/pos', 'train/neg', 'train/unsup', 'test/pos']
FOLDER_PATHS = st.sampled_from(['', *SUBFOLDERS]).map(lambda p: tuple(p.split('/')) if p else ())
LINKED_FOLDERS = FOLDER_PATHS  # () is SOURCE/aclImdb itself
FOLDER_LINKS = st.sampled_from(
    ['{outside}/secret.txt', '{outside}/aclImdb/train/pos/0_10.txt', '{rel}/secret.txt', '{outside}/aclImdb/train']
    + ['{outside}/aclImdb', '{rel}/aclImdb/test', 'missing', '.', '..', '{self}']
)
FOLDER_MUTATIONS = st.one_of(
    st.tuples(st.just('data'), INDEX, REVIEW_BYTES),
    st.tuples(st.just('rename'), INDEX, REL_PATHS),
    st.tuples(st.just('add'), REL_PATHS, REVIEW_BYTES),
    st.tuples(st.just('drop'), INDEX),
    st.tuples(st.just('urls'), URLS_NAME.map(lambda n: tuple(n.split('/'))), URLS_BYTES),
    st.tuples(st.just('symlink'), REL_PATHS, FOLDER_LINKS),
    st.tuples(st.just('link_folder'), LINKED_FOLDERS),
    st.tuples(st.just('file_for_folder'), FOLDER_PATHS, REVIEW_BYTES),
    st.tuples(st.just('dir'), REL_PATHS),
)


class Folder(NamedTuple):
    splits: tuple
    root: str  # the source passed: 'src' (holding aclImdb/) or 'aclImdb' itself
    mutations: tuple
    run: Run


FOLDERS = st.builds(
    Folder,
    st.sampled_from([('train',), ('train', 'test')]),
    st.sampled_from(['src', 'aclImdb']),
    st.lists(FOLDER_MUTATIONS, max_size=4).map(tuple),
    RUNS,
)


def folder_entries(case):
    """{path tuple under aclImdb/: bytes, ('link', target) or 'dir'} after the mutations."""
    entries = {tuple(n.split('/')): d for n, d in base_aclimdb(case.splits).items()}
    for mutation in case.mutations:
        kind, files = mutation[0], sorted(p for p, e in entries.items() if isinstance(e, bytes))
        at = files[mutation[1] % len(files)] if files and isinstance(mutation[1], int) else None
        if kind == 'data' and at:
            entries[at] = mutation[2]
        elif kind == 'rename' and at:
            entries[mutation[2]] = entries.pop(at)
        elif kind == 'drop' and at:
            del entries[at]
        elif kind in ('add', 'urls'):
            entries[mutation[1]] = mutation[2]
        elif kind == 'symlink':
            entries[mutation[1]] = ('link', mutation[2])
        elif kind == 'dir':
            entries[mutation[1]] = 'dir'
        elif kind in ('link_folder', 'file_for_folder'):
            path = mutation[1]
            # The source passed is not replaced: what it is (or points to) is the user's choice.
            if path == () and case.root == 'aclImdb':
                continue
            entries = {p: e for p, e in entries.items() if p[: len(path)] != path}
            twin = '{outside}/aclImdb/' + '/'.join(path)
            entries[path] = ('link', twin) if kind == 'link_folder' else mutation[2]
    return entries


def build_folder(case, workspace, outside):
    source = os.path.join(workspace, 'src')
    aclimdb = os.path.join(source, 'aclImdb')
    entries = folder_entries(case)
    os.makedirs(source if () in entries else aclimdb)
    for path, entry in sorted(entries.items(), key=lambda item: len(item[0])):
        materialize(source, os.path.join(aclimdb, *path), entry, outside)
    return aclimdb if case.root == 'aclImdb' else source


# --- (c) tfds folders ---------------------------------------------------------------------

INT64 = st.one_of(st.integers(-2, 11), st.sampled_from([-(1 << 63), (1 << 63) - 1, 1 << 32]))
FEATURE_VALUES = {
    'bytes': st.lists(REVIEW_BYTES, max_size=3),
    'int64': st.lists(INT64, max_size=3),
    'float': st.lists(st.floats(width=32), max_size=2),
    'empty': st.just([]),
    'missing': st.just([]),
}
FEATURE_NAMES = st.one_of(
    st.sampled_from(['text', 'label', 'rating', 'movie_id']),
    st.text(st.characters(exclude_categories=['Cs']), max_size=8),
)


def feature_changes(kinds):
    return st.sampled_from(kinds).flatmap(
        lambda kind: st.tuples(FEATURE_NAMES, st.just(kind), FEATURE_VALUES[kind].map(tuple))
    )


KNOWN_EMPTY = st.tuples(st.sampled_from(sorted(prepare_data.FEATURE_TYPES)), st.just('empty'), st.just(()))


def merged(base, changes):
    """BASE's features with CHANGES (a 'missing' change removes the feature)."""
    features = {name: (kind, values) for name, kind, values in base}
    for name, kind, values in changes:
        features[name] = (kind, values)
    return tuple((n, k, v) for n, (k, v) in features.items() if k != 'missing')


def records(bases, changes):
    """Records: valid examples (BASES) with generated feature CHANGES, or not examples at all."""
    features = st.builds(merged, st.sampled_from(bases), st.lists(changes, max_size=3))
    return st.one_of(
        st.tuples(st.just('example'), features),
        st.tuples(st.just('raw'), st.binary(max_size=32)),
        st.tuples(st.just('flipped'), features, POSITION, XOR),
    )


TFDS_BASES = [
    (('text', 'bytes', (b'good film',)), ('label', 'int64', (1,))),
    (('text', 'bytes', (b'bad film',)), ('label', 'int64', (0,))),
    (('text', 'bytes', (b'no idea',)), ('label', 'int64', (-1,))),
]
TFDS_RECORDS = records(TFDS_BASES, feature_changes(list(FEATURE_VALUES)))
LENGTH_OPS = st.one_of(
    st.tuples(st.just('length'), st.integers(0, (1 << 64) - 1), st.just(True)),
    st.tuples(st.just('length'), st.integers(0, (1 << 64) - 1), st.just(False)),
)
BYTE_OPS = st.one_of(
    st.tuples(st.just('truncate'), POSITION),
    st.tuples(st.just('flip'), POSITION, XOR),
    st.tuples(st.just('append'), st.binary(max_size=16)),
    st.just(('gzip',)),
    LENGTH_OPS,
)
SHARD_DIGITS = st.one_of(
    st.integers(0, 3).map('{:05d}'.format), st.sampled_from(['0', '1', '9' * 19, '0' * 30, '\u0661', '00001 '])
)
TFDS_NAMES = st.builds(
    'imdb_reviews-{}.tfrecord-{}-of-{}'.format,
    st.sampled_from(['train', 'test', 'unsupervised', 'validation']),
    SHARD_DIGITS,
    SHARD_DIGITS,
)
TFDS_LINKS = st.sampled_from(
    [
        '{outside}/tfds/imdb_reviews-train.tfrecord-00000-of-00001',
        '{rel}/tfds/imdb_reviews-train.tfrecord-00000-of-00001',
    ]
    + ['{outside}/tfds', '{outside}/secret.txt', 'missing', '{self}']
)
TFDS_MUTATIONS = st.one_of(
    st.tuples(st.just('record'), INDEX, INDEX, TFDS_RECORDS),
    st.tuples(st.just('add_record'), INDEX, TFDS_RECORDS),
    st.tuples(st.just('drop_file'), INDEX),
    st.tuples(st.just('rename'), INDEX, TFDS_NAMES),
    st.tuples(st.just('copy'), INDEX, st.sampled_from(['other', 'imdb_reviews/plain_text/0.1.0'])),
    st.tuples(st.just('bytes'), INDEX, BYTE_OPS),
    st.tuples(st.just('symlink'), st.one_of(TFDS_NAMES, st.just('imdb_reviews')), TFDS_LINKS),
    st.tuples(st.just('other'), st.sampled_from(['dataset_info.json', 'features.json', '.lock', 'x']), REVIEW_BYTES),
)


class Tfds(NamedTuple):
    folder: str  # where the shards are, under the source
    shards: tuple  # (tfds split, number of shards)
    mutations: tuple
    run: Run


TFDS = st.builds(
    Tfds,
    st.sampled_from(['imdb_reviews/plain_text/1.0.0', '', 'data']),
    st.sampled_from(
        [(('train', 1),), (('train', 2), ('test', 1)), (('train', 1), ('test', 1), ('unsupervised', 1)), (('test', 2),)]
    ),
    st.lists(TFDS_MUTATIONS, max_size=4).map(tuple),
    RUNS,
)


def tfds_files(case):
    """[[path under the source, records, byte ops]] of the valid shards."""
    files = []
    for split, total in case.shards:
        for index in range(total):
            name = f'imdb_reviews-{split}.tfrecord-{index:05d}-of-{total:05d}'
            base = TFDS_BASES[2] if split == 'unsupervised' else TFDS_BASES[index % 2]
            files.append([os.path.join(case.folder, name), [('example', base)], []])
    return files


def build_tfds(case, workspace, outside):
    files = tfds_files(case)
    others = mutate_files(files, case.mutations, case.folder)
    return write_record_files(os.path.join(workspace, 'src'), files, others, outside)


# --- (d) folders of the user's TFRecords ----------------------------------------------------

TFRECORD_BASES = [
    (('text', 'bytes', (b'a user review',)), ('label', 'int64', (1,))),
    (('text', 'bytes', (b'another',)), ('label', 'int64', (0,)), ('rating', 'int64', (3,))),
    (('text', 'bytes', (b'unlabelled',)), ('movie_id', 'bytes', (b'tt0000001',)), ('lang', 'bytes', (b'en',))),
]
TFRECORD_RECORDS = records(TFRECORD_BASES, st.one_of(feature_changes(list(FEATURE_VALUES)), KNOWN_EMPTY))
LOCATIONS = st.sampled_from(['', 'train', 'test', 'unsup', 'other', 'train/deeper'])
TFRECORD_NAMES = st.one_of(
    st.sampled_from(['part-9.tfrecord', 'data.gz', '.hidden', 'manifest.json', 'README', 'x.tfrecord.gz']), SAFE_NAME
)
TFRECORD_PATHS = st.one_of(
    st.builds(os.path.join, LOCATIONS, TFRECORD_NAMES), st.sampled_from(['train', 'test', 'unsup'])
)
TFRECORD_LINKS = st.sampled_from(
    ['{outside}/records.tfrecord', '{rel}/records.tfrecord', '{outside}/records-gz.tfrecord.gz']
    + ['{outside}/tfrecords/train', '{outside}/tfrecords', 'missing', '{self}', '.']
)
TFRECORD_MUTATIONS = st.one_of(
    st.tuples(st.just('record'), INDEX, INDEX, TFRECORD_RECORDS),
    st.tuples(st.just('add_record'), INDEX, TFRECORD_RECORDS),
    st.tuples(st.just('drop_file'), INDEX),
    st.tuples(st.just('rename'), INDEX, TFRECORD_NAMES),
    st.tuples(st.just('copy'), INDEX, LOCATIONS),
    st.tuples(st.just('bytes'), INDEX, BYTE_OPS),
    st.tuples(st.just('symlink'), TFRECORD_PATHS, TFRECORD_LINKS),
    st.tuples(st.just('other'), TFRECORD_PATHS, REVIEW_BYTES),
    st.tuples(st.just('dir'), TFRECORD_PATHS),
)


class Records(NamedTuple):
    layout: str  # flat (every file is train) or splits (train/, test/, unsup/)
    files: tuple  # (split, gzip'd)
    mutations: tuple
    run: Run


RECORDS = st.builds(
    Records,
    st.sampled_from(['flat', 'splits']),
    st.lists(st.tuples(st.sampled_from(['train', 'test', 'unsup']), st.booleans()), min_size=1, max_size=3).map(tuple),
    st.lists(TFRECORD_MUTATIONS, max_size=4).map(tuple),
    RUNS,
)


def build_tfrecords(case, workspace, outside):
    files = []
    for index, (split, gzipped) in enumerate(case.files):
        name = f'part-{index:05d}.tfrecord' + ('.gz' if gzipped else '')
        path = name if case.layout == 'flat' else os.path.join(split, name)
        bases = [TFRECORD_BASES[index % 3], TFRECORD_BASES[(index + 1) % 3]]
        files.append([path, [('example', b) for b in bases], [('gzip',)] if gzipped else []])
    others = mutate_files(files, case.mutations, '')
    return write_record_files(os.path.join(workspace, 'src'), files, others, outside)


# --- building sources ---------------------------------------------------------------------


def mutate_files(files, mutations, folder):
    """Applies MUTATIONS to FILES, [[path, records, byte ops]]; returns the other entries
    to make, {path: bytes, 'dir' or ('link', target)}."""
    others = {}
    for mutation in mutations:
        kind = mutation[0]
        at = files[mutation[1] % len(files)] if files and isinstance(mutation[1], int) else None
        if kind == 'record' and at:
            index = mutation[2] % len(at[1]) if at[1] else 0
            at[1][index : index + 1] = [mutation[3]]
        elif kind == 'add_record' and at:
            at[1].append(mutation[2])
        elif kind == 'drop_file' and at:
            files.remove(at)
        elif kind == 'rename' and at:
            at[0] = os.path.join(os.path.dirname(at[0]), mutation[2])
        elif kind == 'copy' and at:
            files.append([os.path.join(mutation[2], os.path.basename(at[0])), list(at[1]), list(at[2])])
        elif kind == 'bytes' and at:
            at[2].append(mutation[2])
        elif kind == 'symlink':
            others[os.path.join(folder, mutation[1])] = ('link', mutation[2])
        elif kind == 'other':
            others[os.path.join(folder, mutation[1])] = mutation[2]
        elif kind == 'dir':
            others[os.path.join(folder, mutation[1])] = 'dir'
    return others


def write_record_files(source, files, others, outside):
    os.makedirs(source, exist_ok=True)
    for path, file_records, ops in files:
        data = b''.join(frame(record_bytes(r)) for r in file_records)
        for op in ops:
            data = apply_byte_op(data, op)
        materialize(source, os.path.join(source, path), data, outside)
    for path, entry in sorted(others.items()):
        materialize(source, os.path.join(source, path), entry, outside)
    return source


def link_target(target, link, outside):
    if target == '{self}':
        return os.path.basename(link)
    relative = os.path.relpath(outside, os.path.dirname(link))
    return target.replace('{outside}', outside).replace('{rel}', relative)


def materialize(source, path, entry, outside):
    """Makes a file (bytes), folder ('dir') or link (('link', target)) at PATH under SOURCE.
    An entry that clashes with one made before, or whose folder is reached through a
    link, is left out: building a case never writes outside its source."""
    path = os.path.normpath(path)
    parent = os.path.dirname(path)
    real_source = os.path.realpath(source)
    if os.path.commonpath([os.path.realpath(parent), real_source]) != real_source or os.path.islink(path):
        return
    with contextlib.suppress(OSError):
        os.makedirs(parent, exist_ok=True)
        if entry == 'dir':
            os.makedirs(path, exist_ok=True)
        elif isinstance(entry, tuple):
            os.symlink(link_target(entry[1], path, outside), path)
        else:
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW), 'wb') as f:
                f.write(entry)


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def plant_outside(outside):
    """The sentinel folder, beside the sources: a valid source of every kind whose every
    review holds SENTINEL. A link followed out of a source brings SENTINEL into the output."""
    for name, data in base_aclimdb(('train', 'test'), lambda name: SENTINEL + f' {name}'.encode()).items():
        write_file(os.path.join(outside, 'aclImdb', name), data)
    record = frame(example_bytes((('text', 'bytes', (SENTINEL,)), ('label', 'int64', (1,)))))
    write_file(os.path.join(outside, 'secret.txt'), SENTINEL)
    write_file(os.path.join(outside, 'tfds', 'imdb_reviews-train.tfrecord-00000-of-00001'), record)
    write_file(os.path.join(outside, 'records.tfrecord'), record)
    write_file(os.path.join(outside, 'records-gz.tfrecord.gz'), gzip.compress(record, mtime=0))
    write_file(os.path.join(outside, 'tfrecords', 'train', 'part.tfrecord'), record)


# --- the property ---------------------------------------------------------------------------


def snapshot(root, skip=None):
    """{path: what is there} under ROOT (None when ROOT is absent), links not followed."""
    if not os.path.lexists(root):
        return None
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) != skip]
        for name in dirs + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[path] = ('link', os.readlink(path))
            elif stat.S_ISREG(mode):
                with open(path, 'rb') as f:
                    found[path] = ('file', f.read())
            else:
                found[path] = ('other', stat.S_IFMT(mode))
    return found


def set_output_state(output, state):
    if state == 'absent':
        return
    os.makedirs(output)
    if state == 'previous':
        write_file(os.path.join(output, prepare_data.MANIFEST), b'{"format_version": %d}' % prepare_data.FORMAT_VERSION)
        write_file(os.path.join(output, 'train', 'old.tfrecord.gz'), b'from the previous run')
    elif state == 'foreign':
        write_file(os.path.join(output, 'notes.txt'), b'precious')


@contextlib.contextmanager
def working_dir(folder):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def check_error(message, source, output, run):
    assert '\n' not in message and '\r' not in message, f'not one line: {message!r}'
    named = source in message or (run.output_state == 'foreign' and output in message)
    assert named, f'names neither the source nor a file in it: {message!r}'


def check_output(manifest, output):
    """A complete output: the manifest on disk, exactly the files it lists, as many
    records as it counts, with its label counts, and nothing from the sentinel folder."""
    with open(os.path.join(output, prepare_data.MANIFEST), encoding='utf-8') as f:
        assert json.load(f) == manifest
    listed = {name for entry in manifest['splits'].values() for name in entry['files']}
    on_disk = {os.path.relpath(os.path.join(d, n), output) for d, _, names in os.walk(output) for n in names}
    assert on_disk == listed | {prepare_data.MANIFEST}
    for entry in manifest['splits'].values():
        found = [r for name in entry['files'] for r in read_records(os.path.join(output, name))]
        assert len(found) == entry['examples'] > 0
        assert not [r for r in found if SENTINEL in r], 'a record holds bytes from outside the source'
        labels = {}
        for record in found:
            feature = tf.train.Example.FromString(record).features.feature
            value = feature['label'].int64_list.value if 'label' in feature else []
            if len(value) == 1:
                labels[str(value[0])] = labels.get(str(value[0]), 0) + 1
        assert labels == entry['labels']


def outcome(message):
    """The reason in an error message, without the paths and numbers of a case."""
    reason = re.sub(r'record [0-9]+: |\{\{[^}]*\}\} ?', '', message.split(': ', 1)[-1])
    return re.sub(r'[0-9]+', 'N', reason)[:60]


def count_outcome(label):
    """Counts LABEL for --hypothesis-show-statistics (the mix of outcomes of a run)."""
    if currently_in_test_context():
        event(label)


def check_case(root, build, case):
    """Builds CASE's source under ROOT/case and checks prepare() on it (see the module doc)."""
    workspace, outside = os.path.join(root, 'case'), os.path.join(root, 'outside')
    os.makedirs(os.path.join(workspace, 'cwd'))
    try:
        source = build(case, workspace, outside)
        output = os.path.join(workspace, 'out')
        set_output_state(output, case.run.output_state)
        around, before = snapshot(root, skip=output), snapshot(output)
        bounds = case.run._asdict()
        del bounds['output_state']
        with working_dir(os.path.join(workspace, 'cwd')):  # a relative path written would land here
            try:
                manifest = prepare_data.prepare(source, output, **bounds)
            except UserInputError as error:
                check_error(str(error), source, output, case.run)
                assert snapshot(output) == before, 'a failed run changed the output path'
                count_outcome(f'error: {outcome(str(error))}')
            else:
                check_output(manifest, output)
                count_outcome('complete output' + (', links skipped' if manifest['skipped_links'] else ''))
        assert snapshot(root, skip=output) == around, 'something was written outside the output'
    finally:
        shutil.rmtree(workspace)


KINDS = {
    'archive': (ARCHIVES, build_archive),
    'folder': (FOLDERS, build_folder),
    'tfds': (TFDS, build_tfds),
    'tfrecords': (RECORDS, build_tfrecords),
}


def fuzz_test(kind, total):
    strategy, build = KINDS[kind]

    @settings(max_examples=max(1, round(total * SHARES[kind])), **COMMON)
    @given(case=strategy)
    def test(fuzz_root, case):
        check_case(fuzz_root, build, case)

    return test


@pytest.fixture(scope='module')
def fuzz_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('fuzz'))
    plant_outside(os.path.join(root, 'outside'))
    return root


test_archive_fuzz = fuzz_test('archive', FAST_TOTAL)
test_folder_fuzz = fuzz_test('folder', FAST_TOTAL)
test_tfds_fuzz = fuzz_test('tfds', FAST_TOTAL)
test_tfrecords_fuzz = fuzz_test('tfrecords', FAST_TOTAL)
test_archive_fuzz_slow = pytest.mark.slow(fuzz_test('archive', SLOW_TOTAL))
test_folder_fuzz_slow = pytest.mark.slow(fuzz_test('folder', SLOW_TOTAL))
test_tfds_fuzz_slow = pytest.mark.slow(fuzz_test('tfds', SLOW_TOTAL))
test_tfrecords_fuzz_slow = pytest.mark.slow(fuzz_test('tfrecords', SLOW_TOTAL))


def test_framing_matches_tensorflow(tmp_path):
    """The strategies' hand-made TFRecord framing is TensorFlow's, so undamaged files are valid."""
    record = example_bytes(TFRECORD_BASES[1])
    path = str(tmp_path / 'a.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(record)
    with open(path, 'rb') as f:
        assert f.read() == frame(record)


# --- regressions: inputs the readers once failed on ------------------------------------------
# Each is the minimal case Hypothesis printed, less mutations that do not matter, or, where
# marked, one made by hand (a crash or a hang cannot be generated without stopping the run).

RUN = Run(1, *DEFAULT_BOUNDS, 'absent')


@pytest.mark.parametrize('damage', [(('flip', 3, 4),), (('truncate', 3),)])
def test_damaged_gzip_header(fuzz_root, damage):
    case = Archive(('train',), (), 'gnu', 'gz', damage, RUN)
    check_case(fuzz_root, build_archive, case)


def test_linked_aclimdb_folder(fuzz_root):
    check_case(fuzz_root, build_folder, Folder(('train',), 'src', (('link_folder', ()),), RUN))


@pytest.mark.parametrize(
    'build, case',
    [
        (
            build_tfrecords,
            Records('flat', (('train', False),), (('record', 0, 0, ('raw', b'\x01')), ('rename', 0, '\r')), RUN),
        ),
        (build_folder, Folder(('train',), 'src', (('add', ('train', 'pos', '0_9.txt\r'), b'a fine film'),), RUN)),
        # Made by hand, the same class in an archive member's name.
        (
            build_archive,
            Archive(('train',), (('add', 'aclImdb/train/pos/0_9.txt\n', b'a fine film'),), 'gnu', 'gz', (), RUN),
        ),
    ],
)
def test_line_break_in_a_name(fuzz_root, build, case):
    check_case(fuzz_root, build, case)


@pytest.mark.parametrize(
    'build, case',
    [
        (build_tfrecords, Records('flat', (('train', False),), (('other', '\udcff.tfrecord', b'a fine film'),), RUN)),
        # Made by hand, the same class in an aclImdb folder.
        (build_folder, Folder(('train',), 'src', (('add', ('train', 'pos', '\udcff_7.txt'), b'a fine film'),), RUN)),
    ],
)
def test_non_utf8_file_name(fuzz_root, build, case):
    check_case(fuzz_root, build, case)


def test_extra_feature_without_kind(fuzz_root):
    example = (('text', 'bytes', (b'a user review',)), ('label', 'int64', (1,)), ('', 'empty', ()))
    case = Records('flat', (('train', False),), (('record', 0, 0, ('example', example)),), RUN)
    check_case(fuzz_root, build_tfrecords, case)


def test_huge_record_length(tmp_path):
    """Made by hand, and run in a child process: the crash would end the test session."""
    case = Records('flat', (('train', False),), (('bytes', 0, ('length', 1 << 40, True)),), RUN)
    script = (
        'import os, sys; sys.path.insert(0, sys.argv[1]); import test_fuzz_readers as t; '
        'os.makedirs(sys.argv[2] + "/outside"); t.plant_outside(sys.argv[2] + "/outside"); '
        't.check_case(sys.argv[2], t.build_tfrecords, eval(sys.argv[3], vars(t)))'
    )
    tests = os.path.dirname(os.path.abspath(__file__))
    command = [sys.executable, '-c', script, tests, str(tmp_path), repr(case)]
    child = subprocess.run(command, capture_output=True, timeout=300, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    assert child.returncode == 0, f'exit {child.returncode}: {child.stderr.decode(errors="replace")[-2000:]}'


def test_fifo_named_like_a_shard(tmp_path):
    """Made by hand: prepare() runs in a thread, which a writer lets go after the wait."""
    source = build_tfds(Tfds('', (('train', 2),), (), RUN), str(tmp_path), str(tmp_path / 'outside'))
    shard = os.path.join(source, 'imdb_reviews-train.tfrecord-00001-of-00002')
    os.remove(shard)
    os.mkfifo(shard)
    errors = []

    def run():
        try:
            prepare_data.prepare(source, str(tmp_path / 'out'))
        except Exception as error:
            errors.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=3)
    blocked = worker.is_alive()
    while worker.is_alive():  # a writer that closes at once lets each blocked open() return
        with contextlib.suppress(OSError):
            os.close(os.open(shard, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=0.1)
    assert not blocked, 'prepare() blocked on a FIFO in the source'
    assert len(errors) == 1 and isinstance(errors[0], UserInputError)


def test_source_neither_file_nor_folder(tmp_path):
    """Made by hand: /dev/null takes the path a pipe source takes, and cannot block."""
    output = str(tmp_path / 'out')
    with pytest.raises(UserInputError, match='/dev/null'):
        prepare_data.prepare('/dev/null', output)
    assert not os.path.exists(output)
