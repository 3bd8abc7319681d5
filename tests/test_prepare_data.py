"""Tests for imdb_tfx.prepare_data on the committed sample archive and small hand-made sources."""

import collections
import glob
import gzip
import hashlib
import io
import json
import os
import re
import tarfile

import pytest
import tensorflow as tf

from conftest import imdb_tfx, read_split, tar_bytes
from imdb_tfx import prepare_data
from imdb_tfx.core.errors import UserInputError

SAMPLE = os.path.join(os.path.dirname(__file__), 'data', 'aclImdb_sample.tar.gz')
_REVIEW = re.compile(r'aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt')
_LABELS = {'neg': 0, 'pos': 1}


# --- helpers ---------------------------------------------------------------------------


def as_tuples(records):
    return collections.Counter((r['text'], r.get('label'), r.get('rating'), r.get('movie_id')) for r in records)


def archive_files(path):
    with tarfile.open(path, 'r:gz') as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def expected_records(files):
    """{split: Counter of (text, label, rating, movie_id)} computed straight from the files."""
    expected = collections.defaultdict(collections.Counter)
    for name, data in files.items():
        match = _REVIEW.fullmatch(name)
        if not match:
            continue
        split, folder, review_id, rating = match.groups()
        url = files[f'aclImdb/{split}/urls_{folder}.txt'].decode().splitlines()[int(review_id)]
        movie_id = re.search(r'/title/(tt\d+)/', url).group(1).encode()
        if folder == 'unsup':
            expected['unsup'][(data, None, None, movie_id)] += 1
        else:
            expected[split][(data, _LABELS[folder], int(rating), movie_id)] += 1
    return expected


def write_archive(path, files):
    with tarfile.open(path, 'w:gz') as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
    return str(path)


def write_tree(root, files):
    for name, data in files.items():
        os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
        with open(os.path.join(root, name), 'wb') as f:
            f.write(data)
    return str(root)


def url(movie):
    return f'http://www.imdb.com/title/tt{movie:07d}/usercomments\n'


def tiny_files(splits=('train',)):
    """A minimal aclImdb layout: 3 neg + 3 pos per split, 2 unsup reviews in train."""
    files = {}
    for split in splits:
        for folder, ratings in (('neg', [1, 4, 2]), ('pos', [10, 7, 9])):
            for i, rating in enumerate(ratings):
                files[f'aclImdb/{split}/{folder}/{i}_{rating}.txt'] = (
                    f'{split} {folder} review {i}<br /><br />'.encode()
                )
            files[f'aclImdb/{split}/urls_{folder}.txt'] = (url(11) * 2 + url(12)).encode()
    files['aclImdb/train/unsup/0_0.txt'] = b'unlabelled one'
    files['aclImdb/train/unsup/1_0.txt'] = b'unlabelled two'
    files['aclImdb/train/urls_unsup.txt'] = (url(1) + url(2)).encode()
    files['aclImdb/README'] = b'readme'
    return files


def file_hashes(output):
    hashes = {}
    for folder, _, names in os.walk(output):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                hashes[os.path.relpath(path, output)] = hashlib.sha256(f.read()).hexdigest()
    return hashes


@pytest.fixture(scope='module')
def sample_output(tmp_path_factory):
    output = str(tmp_path_factory.mktemp('sample') / 'prepared')
    return output, prepare_data.prepare(SAMPLE, output)


# --- the sample archive ----------------------------------------------------------------


def test_sample_counts_match_source_files(sample_output):
    output, manifest = sample_output
    names = [m for m in archive_files(SAMPLE) if _REVIEW.fullmatch(m)]
    count = collections.Counter(_REVIEW.fullmatch(m).group(2) for m in names)
    assert count == {'pos': 500, 'neg': 500, 'unsup': 100}
    train, unsup = manifest['splits']['train'], manifest['splits']['unsup']
    assert set(manifest['splits']) == {'train', 'unsup'}  # no test/ folder in the source
    assert train['examples'] == len(read_split(output, 'train')) == count['pos'] + count['neg']
    assert train['labels'] == {'0': count['neg'], '1': count['pos']}
    assert unsup['examples'] == len(read_split(output, 'unsup')) == count['unsup']
    assert not os.path.exists(os.path.join(output, 'test'))


def test_sample_records_match_files_labels_ratings_and_urls(sample_output):
    output, _ = sample_output
    expected = expected_records(archive_files(SAMPLE))
    train = read_split(output, 'train')
    assert as_tuples(train) == expected['train']
    for record in train:
        assert record['rating'] in (range(1, 5) if record['label'] == 0 else range(7, 11))
        assert re.fullmatch(rb'tt\d+', record['movie_id'])


def test_unsup_written_apart_without_label(sample_output):
    output, manifest = sample_output
    unsup = read_split(output, 'unsup')
    assert as_tuples(unsup) == expected_records(archive_files(SAMPLE))['unsup']
    assert all(set(r) == {'text', 'movie_id'} for r in unsup)
    assert manifest['splits']['unsup']['features'] == {'movie_id': 'bytes', 'text': 'bytes'}


def test_manifest_on_disk(sample_output):
    output, manifest = sample_output
    with open(os.path.join(output, 'manifest.json')) as f:
        assert json.load(f) == manifest
    with open(SAMPLE, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    assert manifest['source'] == {'path': os.path.abspath(SAMPLE), 'sha256': sha256, 'format': 'aclimdb-archive'}
    assert prepare_data.source_fingerprint(SAMPLE) == sha256
    assert manifest['format_version'] == prepare_data.FORMAT_VERSION
    assert manifest['non_utf8_reviews'] == 0
    assert manifest['splits']['train']['features'] == {
        'label': 'int64',
        'movie_id': 'bytes',
        'rating': 'int64',
        'text': 'bytes',
    }
    assert manifest['splits']['train']['files'] == [f'train/data-{i:05d}-of-00010.tfrecord.gz' for i in range(10)]
    assert sorted(glob.glob(os.path.join(output, '*', '*'))) == sorted(
        os.path.join(output, f) for split in manifest['splits'].values() for f in split['files']
    )
    assert prepare_data.is_prepared(output)
    assert not prepare_data.is_prepared(os.path.dirname(output))


def test_sample_has_whole_movies_with_several_reviews():
    files = archive_files(SAMPLE)
    assert os.path.getsize(SAMPLE) <= 700_000
    movies = collections.Counter(
        line for folder in ('pos', 'neg') for line in files[f'aclImdb/train/urls_{folder}.txt'].decode().splitlines()
    )
    assert sum(1 for n in movies.values() if n >= 3) >= 10


def test_deterministic_bytes(sample_output, tmp_path):
    output, _ = sample_output
    again = str(tmp_path / 'again')
    prepare_data.prepare(SAMPLE, again)
    assert file_hashes(again) == file_hashes(output)
    with open(os.path.join(output, 'train', 'data-00000-of-00010.tfrecord.gz'), 'rb') as f:
        header = f.read(10)
    assert header[:3] == b'\x1f\x8b\x08' and header[3] == 0  # gzip, no file name
    assert header[4:8] == b'\0\0\0\0'  # no timestamp


def test_directory_gives_same_records_as_archive(sample_output, tmp_path):
    output, manifest = sample_output
    extracted = write_tree(tmp_path / 'extracted', archive_files(SAMPLE))
    aclimdb = os.path.join(extracted, 'aclImdb')
    for source in (extracted, aclimdb):
        out = str(tmp_path / f'from_{os.path.basename(source)}')
        from_dir = prepare_data.prepare(source, out)
        assert from_dir['splits'] == manifest['splits']
        assert from_dir['source']['format'] == 'aclimdb-directory'
        data_files = {k: v for k, v in file_hashes(out).items() if k != 'manifest.json'}
        assert data_files == {k: v for k, v in file_hashes(output).items() if k != 'manifest.json'}
    assert prepare_data.source_fingerprint(extracted) == prepare_data.source_fingerprint(aclimdb)


# --- other layouts and behaviours ------------------------------------------------------


def test_full_layout_archive_writes_test_split(tmp_path):
    files = tiny_files(splits=('train', 'test'))
    output = str(tmp_path / 'out')
    manifest = prepare_data.prepare(write_archive(tmp_path / 'full.tar.gz', files), output, 2)
    assert set(manifest['splits']) == {'train', 'test', 'unsup'}
    assert manifest['splits']['test']['labels'] == {'0': 3, '1': 3}
    assert sorted(os.listdir(os.path.join(output, 'test'))) == [
        'data-00000-of-00002.tfrecord.gz',
        'data-00001-of-00002.tfrecord.gz',
    ]
    expected = expected_records(files)
    for split in ('train', 'test', 'unsup'):
        assert as_tuples(read_split(output, split)) == expected[split]


def test_rerun_replaces_previous_output(tmp_path):
    output = str(tmp_path / 'out')
    first = write_archive(tmp_path / 'a.tar.gz', tiny_files(('train', 'test')))
    prepare_data.prepare(first, output)
    with open(os.path.join(output, 'stray.txt'), 'w') as f:
        f.write('from the previous run')
    manifest = prepare_data.prepare(write_archive(tmp_path / 'b.tar.gz', tiny_files()), output)
    assert set(manifest['splits']) == {'train', 'unsup'}
    assert sorted(os.listdir(output)) == ['manifest.json', 'train', 'unsup']
    assert sorted(os.listdir(tmp_path)) == ['a.tar.gz', 'b.tar.gz', 'out']  # no temp dirs


def test_non_utf8_review_is_replaced_and_counted(tmp_path, caplog):
    files = tiny_files()
    files['aclImdb/train/pos/1_7.txt'] = b'caf\xe9 was great'
    output = str(tmp_path / 'out')
    manifest = prepare_data.prepare(write_archive(tmp_path / 'a.tar.gz', files), output)
    assert manifest['non_utf8_reviews'] == 1
    texts = {r['text'] for r in read_split(output, 'train')}
    assert 'caf\ufffd was great'.encode() in texts
    assert 'aclImdb/train/pos/1_7.txt' in caplog.text


def write_tfds(data_dir, splits):
    """A tfds imdb_reviews plain_text data dir; SPLITS is {tfds split: [shard [(text, label)]]}."""
    folder = os.path.join(data_dir, 'imdb_reviews', 'plain_text', '1.0.0')
    os.makedirs(folder, exist_ok=True)
    for split, shards in splits.items():
        for index, shard in enumerate(shards):
            name = f'imdb_reviews-{split}.tfrecord-{index:05d}-of-{len(shards):05d}'
            with tf.io.TFRecordWriter(os.path.join(folder, name)) as writer:
                for text, label in shard:
                    writer.write(
                        tf.train.Example(
                            features=tf.train.Features(
                                feature={
                                    'text': tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
                                    'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                                }
                            )
                        ).SerializeToString()
                    )
    return folder


TFDS_SPLITS = {
    'train': [[(b'good film', 1), (b'bad film', 0)], [(b'great', 1)]],
    'test': [[(b'awful', 0), (b'fine', 1)]],
    'unsupervised': [[(b'no idea', -1)]],
}


def test_tfds_directory(tmp_path):
    write_tfds(tmp_path / 'tfds', TFDS_SPLITS)
    output = str(tmp_path / 'out')
    manifest = prepare_data.prepare(str(tmp_path / 'tfds'), output)
    assert manifest['source']['format'] == 'tfds-imdb_reviews'
    assert manifest['splits']['train']['labels'] == {'0': 1, '1': 2}
    assert manifest['splits']['test']['features'] == {'label': 'int64', 'text': 'bytes'}
    assert as_tuples(read_split(output, 'train')) == collections.Counter(
        [(b'good film', 1, None, None), (b'bad film', 0, None, None), (b'great', 1, None, None)]
    )
    assert as_tuples(read_split(output, 'test')) == collections.Counter(
        [(b'awful', 0, None, None), (b'fine', 1, None, None)]
    )
    assert read_split(output, 'unsup') == [{'text': b'no idea'}]


# --- bad input -------------------------------------------------------------------------


def assert_user_error(source, output, *fragments):
    """prepare() fails with a one-line UserInputError naming FRAGMENTS and leaves no output."""
    with pytest.raises(UserInputError) as error:
        prepare_data.prepare(source, output)
    message = str(error.value)
    assert '\n' not in message
    for fragment in fragments:
        assert fragment in message
    assert not os.path.exists(output)
    assert not [n for n in os.listdir(os.path.dirname(output)) if n.startswith('.')]


def drop(files, *prefixes):
    return {k: v for k, v in files.items() if not k.startswith(prefixes)}


BAD_ARCHIVES = {
    'empty review': (lambda f: {**f, 'aclImdb/train/pos/1_7.txt': b''}, ['aclImdb/train/pos/1_7.txt', 'empty review']),
    'blank review': (
        lambda f: {**f, 'aclImdb/train/neg/2_2.txt': b' \n\t'},
        ['aclImdb/train/neg/2_2.txt', 'empty review'],
    ),
    'bad file name': (
        lambda f: {**f, 'aclImdb/train/neg/notes.txt': b'hi'},
        ['aclImdb/train/neg/notes.txt', '<id>_<rating>.txt'],
    ),
    'no url line': (
        lambda f: {**f, 'aclImdb/train/pos/3_8.txt': b'one more'},
        ['aclImdb/train/urls_pos.txt', 'no line for review id 3'],
    ),
    'no urls file': (lambda f: drop(f, 'aclImdb/train/urls_neg.txt'), ['aclImdb/train/urls_neg.txt', 'missing']),
    'bad url': (
        lambda f: {**f, 'aclImdb/train/urls_pos.txt': b'http://x/1\nhttp://x/2\n'},
        ['aclImdb/train/urls_pos.txt', 'line 1 has no IMDb title id'],
    ),
    'rating vs folder': (
        lambda f: {**drop(f, 'aclImdb/train/pos/0_10'), 'aclImdb/train/pos/0_3.txt': b'x'},
        ['aclImdb/train/pos/0_3.txt', 'rating 3 is outside 7-10'],
    ),
    'pos without neg': (lambda f: drop(f, 'aclImdb/train/neg/'), ['aclImdb/train/neg', 'missing or empty']),
    'no aclImdb layout': (lambda f: drop(f, 'aclImdb/train/'), ['not an aclImdb']),
}


@pytest.mark.parametrize('case', sorted(BAD_ARCHIVES))
def test_bad_archive(tmp_path, case):
    change, fragments = BAD_ARCHIVES[case]
    archive = write_archive(tmp_path / 'bad.tar.gz', change(tiny_files()))
    assert_user_error(archive, str(tmp_path / 'out'), archive, *fragments)


def test_bad_review_in_directory_names_its_path(tmp_path):
    files = tiny_files()
    files['aclImdb/train/pos/1_7.txt'] = b'   '
    source = write_tree(tmp_path / 'src', files)
    review = os.path.join(source, 'aclImdb', 'train', 'pos', '1_7.txt')
    assert_user_error(source, str(tmp_path / 'out'), review, 'empty review')


def test_failure_leaves_previous_output_untouched(tmp_path):
    output = str(tmp_path / 'out')
    prepare_data.prepare(write_archive(tmp_path / 'good.tar.gz', tiny_files()), output)
    before = file_hashes(output)
    files = tiny_files()
    files['aclImdb/train/unsup/1_0.txt'] = b''  # fails late, after most records are written
    with pytest.raises(UserInputError, match='aclImdb/train/unsup/1_0.txt.*empty review'):
        prepare_data.prepare(write_archive(tmp_path / 'bad.tar.gz', files), output)
    assert file_hashes(output) == before
    assert sorted(os.listdir(tmp_path)) == ['bad.tar.gz', 'good.tar.gz', 'out']


def test_missing_source(tmp_path):
    missing = str(tmp_path / 'nope.tar.gz')
    assert_user_error(missing, str(tmp_path / 'out'), missing, 'does not exist')
    with pytest.raises(UserInputError, match='does not exist'):
        prepare_data.source_fingerprint(missing)


def test_directory_without_known_layout(tmp_path):
    source = write_tree(tmp_path / 'src', {'reviews/a.txt': b'hello'})
    assert_user_error(source, str(tmp_path / 'out'), source, 'not an aclImdb')


def test_truncated_archive(tmp_path):
    with open(SAMPLE, 'rb') as f:
        data = f.read()
    truncated = tmp_path / 'truncated.tar.gz'
    truncated.write_bytes(data[: len(data) // 2])
    assert_user_error(str(truncated), str(tmp_path / 'out'), str(truncated), 'truncated archive')


def test_not_an_archive(tmp_path):
    garbage = tmp_path / 'garbage.tar.gz'
    garbage.write_bytes(b'this is not a tar.gz file\n' * 40)
    assert_user_error(str(garbage), str(tmp_path / 'out'), str(garbage), 'unreadable')


@pytest.mark.parametrize(
    'record, reason',
    [
        ((b'ok', 2), 'label 2 is not 0 or 1'),
        ((b' \n', 1), 'empty review'),
    ],
)
def test_bad_tfds_record(tmp_path, record, reason):
    folder = write_tfds(tmp_path / 'tfds', {'train': [[(b'fine', 0), record]]})
    path = os.path.join(folder, 'imdb_reviews-train.tfrecord-00000-of-00001')
    assert_user_error(str(tmp_path / 'tfds'), str(tmp_path / 'out'), path, 'record 1', reason)


def test_unreadable_tfds_file(tmp_path):
    folder = write_tfds(tmp_path / 'tfds', {'train': [[(b'fine', 0)]]})
    path = os.path.join(folder, 'imdb_reviews-train.tfrecord-00000-of-00001')
    with open(path, 'ab') as f:
        f.write(b'garbage after the last record')
    assert_user_error(str(tmp_path / 'tfds'), str(tmp_path / 'out'), path, 'unreadable TFRecord')


def test_tfds_missing_shard(tmp_path):
    folder = write_tfds(tmp_path / 'tfds', {'train': [[(b'a', 0)], [(b'b', 1)]]})
    os.remove(os.path.join(folder, 'imdb_reviews-train.tfrecord-00001-of-00002'))
    assert_user_error(str(tmp_path / 'tfds'), str(tmp_path / 'out'), folder, 'incomplete train')


def test_refuses_to_replace_unrelated_directory(tmp_path):
    output = write_tree(tmp_path / 'home', {'thesis.tex': b'precious'})
    with pytest.raises(UserInputError, match='not a prepare-data output'):
        prepare_data.prepare(SAMPLE, output)
    assert os.listdir(output) == ['thesis.tex']


def test_bad_num_shards(tmp_path):
    with pytest.raises(UserInputError, match='num_shards'):
        prepare_data.prepare(SAMPLE, str(tmp_path / 'out'), num_shards=0)


# --- bounds and links ------------------------------------------------------------------


def add_members(path, members):
    """Appends tar MEMBERS (TarInfo, data or None) to a fresh archive of tiny_files at PATH."""
    path.write_bytes(gzip.compress(tar_bytes(tiny_files(), members), mtime=0))
    return str(path)


def zeros_member(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info, bytes(size)


def test_review_over_default_bound(tmp_path):
    # 2 MiB of zeros: a few KB of archive; no review of the real data is near 1 MiB.
    name = 'aclImdb/train/unsup/1_0.txt'
    archive = add_members(tmp_path / 'big.tar.gz', [zeros_member(name, 2 * prepare_data.MAX_REVIEW_BYTES)])
    assert os.path.getsize(archive) < 100_000
    assert_user_error(
        archive, str(tmp_path / 'out'), f'{name} in {archive}', f'over the bound of {prepare_data.MAX_REVIEW_BYTES}'
    )


def test_review_bound_is_a_parameter(tmp_path):
    name = 'aclImdb/train/pos/1_7.txt'
    files = {**tiny_files(), name: b'x' * 65}
    archive = write_archive(tmp_path / 'a.tar.gz', files)
    output = str(tmp_path / 'out')
    with pytest.raises(UserInputError, match=f'{name} in .*: review is over the bound of 64 bytes') as error:
        prepare_data.prepare(archive, output, max_review_bytes=64)
    assert '\n' not in str(error.value)
    assert not os.path.exists(output)
    assert sorted(os.listdir(tmp_path)) == ['a.tar.gz']  # no temporary output left either
    assert prepare_data.prepare(archive, output, max_review_bytes=65)['splits']['train']['examples'] == 6
    source = write_tree(tmp_path / 'src', files)
    review = os.path.join(source, name)
    with pytest.raises(UserInputError, match=f'{re.escape(review)}: review is over the bound of 64 bytes'):
        prepare_data.prepare(source, str(tmp_path / 'out2'), max_review_bytes=64)
    assert not os.path.exists(tmp_path / 'out2')


@pytest.mark.parametrize('spans', [[], ['--spans', '2']], ids=['plain', 'spans'])
def test_bounds_are_options_of_the_command(tmp_path, spans):
    name = 'aclImdb/train/pos/1_7.txt'
    archive = write_archive(tmp_path / 'a.tar.gz', {**tiny_files(), name: b'x' * 65})
    home = ['--home', str(tmp_path / 'home')]
    refused = imdb_tfx(
        'prepare-data', archive, '--output', str(tmp_path / 'out'), '--max-review-bytes', '64', *spans, *home
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f'error: {name} in {archive}: review is over the bound of 64 bytes (got 65)'
    ]
    entries = imdb_tfx('prepare-data', archive, '--output', str(tmp_path / 'out'), '--max-entries', '3', *spans, *home)
    assert entries.returncode == 2 and 'more than the bound of 3 entries' in entries.stderr
    assert not os.path.exists(tmp_path / 'out')


def test_review_over_bound_is_not_read(tmp_path, monkeypatch):
    """The header's size is judged before the member is read: reading is not even tried."""
    name = 'aclImdb/train/neg/1_4.txt'
    archive = add_members(tmp_path / 'big.tar.gz', [zeros_member(name, 1000)])
    read_sizes = []  # (member size, size asked)
    real_read = tarfile.ExFileObject.read

    def read(self, size=-1):
        read_sizes.append((self.raw.size, size))
        return real_read(self, size)

    monkeypatch.setattr(tarfile.ExFileObject, 'read', read)
    with pytest.raises(UserInputError, match='over the bound of 100 bytes'):
        prepare_data.prepare(archive, str(tmp_path / 'out'), max_review_bytes=100)
    assert read_sizes and all(member < 1000 and asked > 0 for member, asked in read_sizes)


def test_urls_file_over_bound(tmp_path):
    archive = write_archive(tmp_path / 'a.tar.gz', tiny_files())
    with pytest.raises(
        UserInputError, match='aclImdb/train/urls_neg.txt in .*: urls file is over the bound of 10 bytes'
    ):
        prepare_data.prepare(archive, str(tmp_path / 'out'), max_urls_bytes=10)


def test_entries_over_bound(tmp_path):
    files = tiny_files()
    archive = write_archive(tmp_path / 'a.tar.gz', files)
    with pytest.raises(UserInputError, match=f'{re.escape(archive)}: more than the bound of 5 entries'):
        prepare_data.prepare(archive, str(tmp_path / 'out'), max_entries=5)
    source = write_tree(tmp_path / 'src', files)
    with pytest.raises(UserInputError, match=f'{re.escape(source)}/aclImdb: more than the bound of 5 entries'):
        prepare_data.prepare(source, str(tmp_path / 'out'), max_entries=5)
    assert not os.path.exists(tmp_path / 'out')
    # Every archive member counts (write_archive stores files only, no folders).
    with pytest.raises(UserInputError, match=f'bound of {len(files) - 1} entries'):
        prepare_data.prepare(archive, str(tmp_path / 'out'), max_entries=len(files) - 1)
    assert prepare_data.prepare(archive, str(tmp_path / 'out'), max_entries=len(files))['splits']


def test_review_id_of_5000_digits(tmp_path):
    name = f'aclImdb/train/pos/{"1" * 5000}_7.txt'
    archive = write_archive(tmp_path / 'a.tar.gz', {**tiny_files(), name: b'a review'})
    assert_user_error(archive, str(tmp_path / 'out'), f'{name} in {archive}', 'over the bound of 18 digits')


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    name = f'aclImdb/train/neg/{"9" * 5000}_1.txt'
    archive = write_archive(tmp_path / 'a.tar.gz', {**tiny_files(), name: b'a review'})
    output = str(tmp_path / 'out')
    result = imdb_tfx('prepare-data', archive, '--output', output, '--home', str(tmp_path / 'home'))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    assert name in lines[0] and 'Traceback' not in result.stderr
    assert not os.path.exists(output)


def test_folder_source_skips_links(tmp_path):
    outside = tmp_path / 'outside'
    write_tree(outside, {'secret.txt': b'SECRET from outside', 'test/pos/0_9.txt': b'outside test review'})
    files = tiny_files()
    files['aclImdb/train/urls_pos.txt'] += url(13).encode()  # a url line for the link's id 3
    source = write_tree(tmp_path / 'src', files)
    os.symlink(outside / 'secret.txt', os.path.join(source, 'aclImdb', 'train', 'pos', '3_8.txt'))
    os.symlink(outside / 'test', os.path.join(source, 'aclImdb', 'test'))  # a linked folder: not followed either
    output = str(tmp_path / 'out')
    manifest = prepare_data.prepare(source, output)
    assert manifest['skipped_links'] == 2
    assert set(manifest['splits']) == {'train', 'unsup'}
    assert manifest['splits']['train']['examples'] == 6
    texts = [r['text'] for split in ('train', 'unsup') for r in read_split(output, split)]
    assert not [t for t in texts if b'outside' in t or b'SECRET' in t]
    with open(os.path.join(output, 'manifest.json')) as f:
        assert json.load(f)['skipped_links'] == 2
    # The fingerprint is of the files read: the links' targets do not change it.
    before = prepare_data.source_fingerprint(source)
    (outside / 'secret.txt').write_bytes(b'changed')
    assert prepare_data.source_fingerprint(source) == before


def test_archive_link_members_are_counted(tmp_path):
    symlink = tarfile.TarInfo('aclImdb/train/pos/3_8.txt')
    symlink.type, symlink.linkname = tarfile.SYMTYPE, '/etc/passwd'
    hardlink = tarfile.TarInfo('aclImdb/train/neg/3_1.txt')
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, 'aclImdb/train/neg/0_1.txt'
    archive = add_members(tmp_path / 'links.tar.gz', [(symlink, None), (hardlink, None)])
    manifest = prepare_data.prepare(archive, str(tmp_path / 'out'))
    assert manifest['skipped_links'] == 2
    assert manifest['splits']['train']['examples'] == 6


def test_cli_summary_counts_skipped_links(tmp_path):
    (tmp_path / 'outside.txt').write_bytes(b'SECRET from outside')
    source = write_tree(tmp_path / 'src', tiny_files())
    os.symlink(tmp_path / 'outside.txt', os.path.join(source, 'aclImdb', 'train', 'pos', '2_9.txt.bak'))
    output = str(tmp_path / 'out')
    result = imdb_tfx('prepare-data', source, '--output', output, '--home', str(tmp_path / 'home'))
    assert result.returncode == 0, result.stderr
    assert 'skipped 1 links' in result.stdout


def test_tfds_folder_skips_linked_shards(tmp_path):
    folder = write_tfds(tmp_path / 'tfds', TFDS_SPLITS)
    outside = write_tfds(tmp_path / 'outside', {'test': [[(b'SECRET from outside', 1)]]})
    name = 'imdb_reviews-test.tfrecord-00000-of-00001'
    os.remove(os.path.join(folder, name))
    os.symlink(os.path.join(outside, name), os.path.join(folder, name))
    manifest = prepare_data.prepare(str(tmp_path / 'tfds'), str(tmp_path / 'out'))
    assert manifest['skipped_links'] == 1
    assert set(manifest['splits']) == {'train', 'unsup'}


@pytest.mark.parametrize(
    'name, data, reason',
    [
        # Digits of other scripts are digits to int() and \d, not to a review file name.
        ('aclImdb/train/pos/\u0661_9.txt', b'review', 'review file name is not <id>_<rating>.txt'),
        ('aclImdb/train/pos/0_\u0669.txt', b'review', 'review file name is not <id>_<rating>.txt'),
        ('aclImdb/train/urls_pos.txt', 'http://www.imdb.com/title/tt\u0661\u0662/\n'.encode(), 'no IMDb title id'),
    ],
    ids=['arabic-indic-id', 'arabic-indic-rating', 'arabic-indic-title'],
)
def test_only_ascii_digits_are_numbers(tmp_path, name, data, reason):
    files = tiny_files()
    if name.endswith('.txt') and '/pos/' in name:
        del files['aclImdb/train/pos/0_10.txt']
    files[name] = data
    assert_user_error(write_archive(tmp_path / 'a.tar.gz', files), str(tmp_path / 'out'), reason)


@pytest.mark.parametrize('name', ['aclImdb/train/pos/2_8.txt', 'aclImdb/README', 'elsewhere/big.bin'])
def test_a_member_claiming_exabytes_is_refused_read_or_not(tmp_path, name):
    """A member that is not read is still skipped by tarfile, block by block: its size is bounded too."""
    member = tarfile.TarInfo(name)
    member.size = 1 << 62
    files = tiny_files()
    archive = tmp_path / 'lying.tar'
    with tarfile.open(archive, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for n in sorted(files):
            info = tarfile.TarInfo(n)
            info.size = len(files[n])
            tar.addfile(info, io.BytesIO(files[n]))
        tar.fileobj.write(member.tobuf(format=tarfile.GNU_FORMAT))  # the lying member last, with no data
        tar.offset = tar.fileobj.tell()
    assert_user_error(
        str(archive),
        str(tmp_path / 'out'),
        f'over the bound of {prepare_data.MAX_URLS_BYTES} bytes'
        if not name.endswith('.txt')
        else f'over the bound of {prepare_data.MAX_REVIEW_BYTES} bytes',
    )
