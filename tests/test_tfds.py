"""tensorflow-datasets as a data path: tfds's own `imdb_reviews` builder
(plain_text) builds from the committed sample, only its one download replaced
by a local archive, and `imdb-tfx prepare-data` and `imdb-tfx run` read what
it wrote. The sample has no test/ reviews: the archive gives the builder some,
copies of train reviews of distinct movies, as aclImdb/test/pos|neg."""

import collections
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import tensorflow as tf

from conftest import SAMPLE_ARCHIVE, SHORT_TRAINING, imdb_tfx, read_split
from imdb_tfx import prepare_data
from imdb_tfx.core import serving
from imdb_tfx.core.home import Home

# What the builder downloads, and the file name tfds's registered checksum gives it.
OFFICIAL_URL = 'http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz'
OFFICIAL_NAME = 'aclImdb_v1.tar.gz'
OFFICIAL_SHA256 = 'c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe'
TEST_REVIEWS = 20  # per label
SAMPLE_COUNTS = {'train': 1000, 'unsupervised': 100}
_TRAIN_REVIEW = re.compile(r'aclImdb/train/(pos|neg)/(\d+)_(\d+)\.txt')


def _sample_files() -> dict:
    with tarfile.open(SAMPLE_ARCHIVE) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _with_test_reviews(files: dict) -> dict:
    """FILES plus aclImdb/test/{pos,neg}: the first train review of each of
    TEST_REVIEWS movies, renumbered, with its urls_*.txt line."""
    files = dict(files)
    for folder in ('pos', 'neg'):
        urls = files[f'aclImdb/train/urls_{folder}.txt'].decode().splitlines()
        reviews = sorted(
            (int(m.group(2)), m.group(3), name)
            for name in files
            for m in [_TRAIN_REVIEW.fullmatch(name)]
            if m and m.group(1) == folder
        )
        chosen = {}  # movie url -> (rating, train review's name)
        for review_id, rating, name in reviews:
            if len(chosen) < TEST_REVIEWS:
                chosen.setdefault(urls[review_id], (rating, name))
        for new_id, (rating, name) in enumerate(chosen.values()):
            files[f'aclImdb/test/{folder}/{new_id}_{rating}.txt'] = files[name]
        files[f'aclImdb/test/urls_{folder}.txt'] = ''.join(f'{url}\n' for url in chosen).encode()
    return files


def _write_archive(path: str, files: dict) -> str:
    with tarfile.open(path, 'w:gz') as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
    return path


@pytest.fixture(scope='module')
def archive(tmp_path_factory) -> str:
    """The sample plus test reviews, named as the official archive."""
    folder = tmp_path_factory.mktemp('tfds-archive')
    return _write_archive(str(folder / OFFICIAL_NAME), _with_test_reviews(_sample_files()))


@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory, archive) -> str:
    """tfds's imdb_reviews/plain_text/1.0.0 folder, built by its real builder;
    only DownloadManager.download is replaced (it returns the local archive)."""
    import tensorflow_datasets as tfds

    data_dir = tmp_path_factory.mktemp('tfds-data')
    downloaded = []

    def download(self, url_or_urls):
        downloaded.append(url_or_urls)
        return archive

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfds.download.DownloadManager, 'download', download)
        builder = tfds.builder('imdb_reviews/plain_text', data_dir=str(data_dir))
        builder.download_and_prepare()
    assert downloaded == [OFFICIAL_URL]  # the builder's one download
    return str(data_dir / 'imdb_reviews' / 'plain_text' / '1.0.0')


def _archive_texts(archive: str) -> dict:
    """{(tfds split, label): Counter of texts} as the builder reads them (stripped)."""
    review = re.compile(r'aclImdb/(train|test)/(pos|neg|unsup)/\d+_\d+\.txt')
    texts = collections.defaultdict(collections.Counter)
    with tarfile.open(archive) as tar:
        for member in tar:
            match = review.fullmatch(member.name)
            if match:
                split, folder = match.groups()
                key = ('unsupervised', -1) if folder == 'unsup' else (split, int(folder == 'pos'))
                texts[key][tar.extractfile(member).read().strip()] += 1
    return texts


def _tfds_records(path: str) -> collections.Counter:
    records = collections.Counter()
    for serialized in tf.data.TFRecordDataset(path).as_numpy_iterator():
        feature = tf.train.Example.FromString(serialized).features.feature
        records[(feature['text'].bytes_list.value[0], feature['label'].int64_list.value[0])] += 1
    return records


def test_tfds_writes_the_three_splits(tfds_dir, archive):
    files = sorted(os.listdir(tfds_dir))
    splits = ('train', 'test', 'unsupervised')
    shards = [f'imdb_reviews-{s}.tfrecord-00000-of-00001' for s in splits]
    assert set(shards) | {'dataset_info.json', 'features.json'} <= set(files), files
    expected = _archive_texts(archive)
    for split, shard in zip(splits, shards):
        records = _tfds_records(os.path.join(tfds_dir, shard))
        by_label = collections.defaultdict(collections.Counter)
        for (text, label), count in records.items():
            by_label[label][text] += count
        assert by_label == {label: expected[(split, label)] for s, label in expected if s == split}, split
    counts = {s: sum(_tfds_records(os.path.join(tfds_dir, sh)).values()) for s, sh in zip(splits, shards)}
    assert counts == {**SAMPLE_COUNTS, 'test': 2 * TEST_REVIEWS}
    with open(os.path.join(tfds_dir, 'dataset_info.json'), encoding='utf-8') as f:
        info = json.load(f)
    assert {s['name']: sum(int(n) for n in s['shardLengths']) for s in info['splits']} == counts


def test_prepare_data_reads_what_tfds_wrote(tfds_dir, archive, tmp_path):
    output = str(tmp_path / 'prepared')
    result = imdb_tfx('prepare-data', tfds_dir, '--output', output, '--home', str(tmp_path / 'home'))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = result.stdout.splitlines()[-1].removeprefix(f'{output}: ')
    assert dict(part.split(' ') for part in summary.split(', ')) == {
        'train': '1000',
        'test': str(2 * TEST_REVIEWS),
        'unsup': '100',
    }
    manifest = prepare_data.read_manifest(output)
    assert manifest['source']['format'] == 'tfds-imdb_reviews'
    splits = manifest['splits']
    assert splits['train']['labels'] == {'0': 500, '1': 500}
    assert splits['test']['labels'] == {'0': TEST_REVIEWS, '1': TEST_REVIEWS}
    assert splits['unsup']['labels'] == {} and splits['unsup']['features'] == {'text': 'bytes'}
    expected = _archive_texts(archive)
    for split, tfds_split in (('train', 'train'), ('test', 'test')):
        got = collections.Counter((r['text'], r['label']) for r in read_split(output, split))
        assert got == {(t, label): n for (s, label), c in expected.items() if s == tfds_split for t, n in c.items()}
    unsup = read_split(output, 'unsup')
    assert all(set(r) == {'text'} for r in unsup)  # tfds's label -1: unlabeled, no label
    assert collections.Counter(r['text'] for r in unsup) == expected[('unsupervised', -1)]


def test_the_pipeline_runs_on_tfds_output_to_a_push(tfds_dir, tiny_embedding, tmp_path):
    home = Home.at(str(tmp_path / 'home'))
    result = imdb_tfx('run', '--data', tfds_dir, '--home', home.root, '--hub', tiny_embedding, *SHORT_TRAINING)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    notes = [line for line in result.stdout.splitlines() if line.startswith('Note: ')]
    assert any(f'no movie_id in {home.data_cache}' in n and 'split at random' in n for n in notes), notes
    assert not any('without self-training' in n for n in notes), notes  # tfds's unsupervised split is there
    assert 'Data gate: passed' in result.stdout
    versions = serving.versions(home.serving_dir)
    assert len(versions) == 1
    assert f'Blessed and pushed: {os.path.join(home.serving_dir, versions[0])}' in result.stdout


def test_tfds_build_takes_the_official_archive_from_manual_dir(archive, tmp_path):
    """The offline command, `tfds build imdb_reviews --manual_dir DIR`, as is:
    tfds looks up the official file name in DIR and checks it against the
    checksum it has registered for the download; the sample is not the
    official archive, so it stops there, naming the file it took."""
    manual = tmp_path / 'manual'
    manual.mkdir()
    shutil.copy(archive, manual / OFFICIAL_NAME)
    tfds_cli = os.path.join(os.path.dirname(sys.executable), 'tfds')
    result = subprocess.run(
        [tfds_cli, 'build', 'imdb_reviews', '--manual_dir', str(manual), '--data_dir', str(tmp_path / 'data')],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert 'NonMatchingChecksumError' in result.stderr, result.stderr[-3000:]
    assert f'{OFFICIAL_URL}, downloaded to {manual / OFFICIAL_NAME}, has wrong checksum' in result.stderr
    assert OFFICIAL_SHA256 in result.stderr
    assert not os.path.exists(tmp_path / 'data' / 'downloads' / 'imdb_reviews')  # nothing was fetched
