"""Data as users have it: a folder of their own TFRecords of tf.Example (not
written by prepare-data), judged by the data gate like any other data; the
default recipe bends to what the data lacks and says so."""

import glob
import os

import pytest
import tensorflow as tf

from conftest import SHORT_TRAINING, imdb_tfx
from imdb_tfx import prepare_data
from imdb_tfx.core.errors import UserInputError


def _examples(prepared: str, split: str = 'train'):
    files = sorted(glob.glob(os.path.join(prepared, split, '*')))
    return [
        tf.train.Example.FromString(r)
        for r in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator()
    ]


def _users_records(prepared: str):
    """The sample's labelled reviews as a user might export them: text and
    label, no movie_id or rating, one feature of their own."""
    for example in _examples(prepared):
        feature = example.features.feature
        yield tf.train.Example(
            features=tf.train.Features(
                feature={
                    'text': feature['text'],
                    'label': feature['label'],
                    'source': tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'crm-export'])),
                }
            )
        )


@pytest.fixture(scope='module')
def users_folder(tmp_path_factory, prepared_sample) -> str:
    """Flat, uncompressed, a name of their own; and a gzip'd file without a .gz name."""
    folder = tmp_path_factory.mktemp('users-tfrecords')
    records = list(_users_records(prepared_sample))
    with tf.io.TFRecordWriter(str(folder / 'reviews-part-a.tfr')) as writer:
        for example in records[:600]:
            writer.write(example.SerializeToString())
    with tf.io.TFRecordWriter(str(folder / 'reviews-part-b'), 'GZIP') as writer:
        for example in records[600:]:
            writer.write(example.SerializeToString())
    (folder / '.DS_Store').write_bytes(b'\0')  # hidden files are not data
    return str(folder)


def test_a_folder_of_tfrecords_is_prepared_as_it_is(users_folder, prepared_sample, tmp_path):
    manifest = prepare_data.prepare(users_folder, str(tmp_path / 'out'))
    assert manifest['source']['format'] == 'tfrecords'
    train = manifest['splits']['train']
    assert list(manifest['splits']) == ['train'] and train['examples'] == 1000
    assert train['features'] == {'label': 'int64', 'source': 'bytes', 'text': 'bytes'}
    assert sum(train['labels'].values()) == 1000
    originals = {e.features.feature['text'].bytes_list.value[0] for e in _examples(prepared_sample)}
    copied = _examples(str(tmp_path / 'out'))
    assert {e.features.feature['text'].bytes_list.value[0] for e in copied} == originals
    assert all(e.features.feature['source'].bytes_list.value[0] == b'crm-export' for e in copied)


def test_split_folders_are_kept(prepared_sample, tmp_path):
    source = tmp_path / 'src'
    for split in ('train', 'unsup'):
        os.makedirs(source / split)
        examples = _examples(prepared_sample, split)
        with tf.io.TFRecordWriter(str(source / split / 'part.gz'), 'GZIP') as writer:
            for example in examples:
                writer.write(example.SerializeToString())
    manifest = prepare_data.prepare(str(source), str(tmp_path / 'out'))
    assert {s: v['examples'] for s, v in manifest['splits'].items()} == {'train': 1000, 'unsup': 100}


def test_a_file_that_is_not_tfrecords_is_named(tmp_path):
    source = tmp_path / 'src'
    os.makedirs(source)
    (source / 'notes.bin').write_bytes(b'definitely not a TFRecord file' * 10)
    with pytest.raises(UserInputError, match='notes.bin: unreadable TFRecord file'):
        prepare_data.prepare(str(source), str(tmp_path / 'out'))


def test_records_that_are_not_examples_are_named(tmp_path):
    source = tmp_path / 'src'
    os.makedirs(source)
    with tf.io.TFRecordWriter(str(source / 'odd.tfrecord')) as writer:
        writer.write(b'\xff\xfe not a protocol buffer')
    with pytest.raises(UserInputError, match='odd.tfrecord: record 0: not a tf.Example'):
        prepare_data.prepare(str(source), str(tmp_path / 'out'))


@pytest.mark.slow
def test_the_default_recipe_runs_on_them_and_says_what_it_changed(users_folder, tiny_embedding, tmp_path):
    home = str(tmp_path / 'home')
    result = imdb_tfx(
        'run',
        '--data',
        users_folder,
        '--home',
        home,
        '--hub',
        tiny_embedding,
        *SHORT_TRAINING,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'Data gate: passed' in result.stdout
    assert 'split at random' in result.stdout and 'trained without self-training' in result.stdout
    assert 'UnlabeledExampleGen' not in result.stdout
    report = next(line.split(': ', 1)[1] for line in result.stdout.splitlines() if line.startswith('Report: '))
    with open(report, encoding='utf-8') as f:
        page = f.read()
    assert 'trained without self-training' in page and 'split at random' in page


@pytest.mark.slow
def test_what_the_user_asks_for_is_not_bent(users_folder, tiny_embedding, tmp_path):
    for option, message in (
        (['--split', 'movie'], 'no movie_id'),
        (['--self-training-confidence', '0.9', '--split', 'random'], 'no unlabeled reviews'),
    ):
        result = imdb_tfx(
            'run', '--data', users_folder, '--home', str(tmp_path / 'home'), '--hub', tiny_embedding, *option
        )
        assert result.returncode == 2 and message in result.stderr


def _write_examples(path, *features: dict):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for feature in features:
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _bytes(*values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _ints(*values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


@pytest.mark.parametrize(
    'feature, reason',
    [
        ({'label': _ints(1)}, "record 1: no 'text' feature"),
        ({'text': _ints(3)}, "record 1: 'text' must be one bytes value, got 1 int64 values"),
        ({'text': _bytes(b'a', b'b')}, "record 1: 'text' must be one bytes value, got 2 bytes values"),
        ({'text': _bytes(b'ok'), 'label': _bytes(b'1')}, "'label' must be one int64 value, got 1 bytes values"),
        ({'text': _bytes(b'ok'), 'label': tf.train.Feature()}, "'label' must be one int64 value, got no value"),
        ({'text': _bytes(b'ok'), 'label': _ints(2)}, "record 1: 'label' 2 is not 0 or 1"),
        ({'text': _bytes(b'ok'), 'movie_id': _ints(7)}, "'movie_id' must be one bytes value"),
        ({'text': _bytes(b'x' * 65)}, 'record 1: review is over the bound of 64 bytes'),
    ],
    ids=['no-text', 'text-int', 'two-texts', 'label-bytes', 'label-empty', 'label-2', 'movie-int', 'too-long'],
)
def test_the_features_the_pipeline_reads_must_have_their_types(tmp_path, feature, reason):
    """Refused when read, in one line naming the file and the record, before the pipeline runs."""
    source = tmp_path / 'src'
    os.makedirs(source)
    _write_examples(source / 'part.tfr', {'text': _bytes(b'fine'), 'label': _ints(1)}, feature)
    with pytest.raises(UserInputError) as error:
        prepare_data.prepare(str(source), str(tmp_path / 'out'), max_review_bytes=64)
    assert str(error.value).startswith(f'{source / "part.tfr"}: ') and reason in str(error.value)
    assert not os.path.exists(tmp_path / 'out')


def test_links_in_a_folder_of_tfrecords_are_skipped_and_counted(tmp_path):
    outside = tmp_path / 'outside'
    os.makedirs(outside / 'test')
    _write_examples(outside / 'secret.tfr', {'text': _bytes(b'SECRET from outside'), 'label': _ints(1)})
    _write_examples(outside / 'test' / 'part.tfr', {'text': _bytes(b'SECRET test'), 'label': _ints(0)})
    source = tmp_path / 'src'
    os.makedirs(source / 'train')
    _write_examples(source / 'train' / 'part.tfr', {'text': _bytes(b'mine'), 'label': _ints(1)})
    os.symlink(outside / 'secret.tfr', source / 'train' / 'linked.tfr')
    os.symlink(outside / 'test', source / 'test')  # a linked split folder: not entered either
    manifest = prepare_data.prepare(str(source), str(tmp_path / 'out'))
    assert manifest['skipped_links'] == 2
    assert set(manifest['splits']) == {'train'} and manifest['splits']['train']['examples'] == 1
