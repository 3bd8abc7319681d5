"""prepare-data --spans and ingest on the committed sample of real reviews:
spans cut by movie in title order, each a prepare-data output, and new
sources appended as the next span."""

import collections
import json
import os

import pytest

from conftest import SAMPLE_ARCHIVE, imdb_tfx, read_split
from imdb_tfx import prepare_data, spans
from imdb_tfx.core.errors import UserInputError


def _movies(folder, split):
    return collections.Counter(r['movie_id'] for r in read_split(folder, split))


@pytest.fixture(scope='module')
def three_spans(tmp_path_factory):
    output = str(tmp_path_factory.mktemp('spans') / 'data')
    spans.prepare_spans(SAMPLE_ARCHIVE, output, 3)
    return output


def test_spans_hold_every_review_once_with_new_movies_in_title_order(three_spans, prepared_sample):
    manifest = spans.read_manifest(three_spans)
    assert [e['span'] for e in manifest['spans']] == [1, 2, 3]
    movie_sets = []
    for number in (1, 2, 3):
        folder = spans.span_dir(three_spans, number)
        assert prepare_data.is_prepared(folder)
        movie_sets.append(set(_movies(folder, 'train')) | set(_movies(folder, 'unsup')))
        with open(os.path.join(folder, spans.MOVIES_FILE)) as f:
            assert set(f.read().split()) == {m.decode() for m in movie_sets[-1]}
    # Disjoint movies, and each span's titles come after the previous span's.
    assert not (movie_sets[0] & movie_sets[1]) and not (movie_sets[1] & movie_sets[2])
    title = lambda movie: int(movie[2:])  # noqa: E731
    assert max(map(title, movie_sets[0])) < min(map(title, movie_sets[1]))
    assert max(map(title, movie_sets[1])) < min(map(title, movie_sets[2]))
    # Together, exactly the reviews of one prepare-data output.
    for split in ('train', 'unsup'):
        together = sum(
            (
                collections.Counter(r['text'] for r in read_split(spans.span_dir(three_spans, n), split))
                for n in (1, 2, 3)
            ),
            collections.Counter(),
        )
        assert together == collections.Counter(r['text'] for r in read_split(prepared_sample, split))
    # About equal labelled reviews (whole movies: not exactly).
    labelled = [e['labelled'] for e in manifest['spans']]
    assert sum(labelled) == 1000 and max(labelled) - min(labelled) < 150


def test_ingest_appends_the_next_span_and_notes_repeated_movies(three_spans, tmp_path):
    data = str(tmp_path / 'data')
    result = imdb_tfx('ingest', spans.span_dir(three_spans, 1), '--data', data)
    assert result.returncode == 0, result.stderr
    assert f'{data}/span-1: ' in result.stdout
    assert spans.span_numbers(data) == [1]
    entry = spans.ingest(spans.span_dir(three_spans, 2), data)
    assert entry['span'] == 2 and entry['movies_seen_before'] == 0
    again = spans.ingest(spans.span_dir(three_spans, 2), data)  # the same movies once more
    assert again['span'] == 3 and again['movies_seen_before'] == again['movies'] > 0
    assert spans.span_numbers(data) == [1, 2, 3]
    assert json.load(open(os.path.join(data, spans.SPANS_MANIFEST)))['spans'][2]['labelled'] == entry['labelled']


def test_ingest_refuses_a_folder_that_is_not_spans(prepared_sample, tmp_path):
    with pytest.raises(UserInputError, match='not a spans folder'):
        spans.ingest(SAMPLE_ARCHIVE, prepared_sample)


def _own_tfrecords(folder, movie_ids):
    import tensorflow as tf

    folder.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(folder / 'data.tfrecord')) as writer:
        for i, movie in enumerate(movie_ids):
            example = tf.train.Example()
            example.features.feature['text'].bytes_list.value.append(f'review {i}'.encode())
            example.features.feature['label'].int64_list.value.append(i % 2)
            if movie is not None:
                example.features.feature['movie_id'].bytes_list.value.append(movie)
            writer.write(example.SerializeToString())


@pytest.mark.parametrize(
    'movie, reason',
    [
        (None, 'without movie_id'),  # the user's own TFRecords without movie_id: nothing to cut by
        (b'tt\xff01', 'is not a movie id'),  # written one per line in ASCII: not UTF-8, not spaces
        (b'tt 1', 'is not a movie id'),
        (b'tt' + b'9' * 5000, 'is not a movie id'),  # more digits than int() converts
    ],
    ids=['missing', 'not-ascii', 'space', '5000-digits'],
)
def test_spans_need_movie_ids(tmp_path, movie, reason):
    _own_tfrecords(tmp_path / 'own' / 'train', [movie, b'tt1', b'tt2', b'tt3'])
    with pytest.raises(UserInputError, match=reason):
        spans.prepare_spans(str(tmp_path / 'own'), str(tmp_path / 'out'), 2)
    assert not os.path.exists(tmp_path / 'out')


def test_run_refuses_a_window_without_spans_and_unknown_drift_measures(prepared_sample, tmp_path):
    from imdb_tfx.pipeline import options

    assert options.drift_thresholds(['rating=0.5'])['rating'] == 0.5
    with pytest.raises(UserInputError, match="no measure 'length'"):
        options.drift_thresholds(['length=0.5'])
    with pytest.raises(UserInputError, match="'high' is not a number"):
        options.drift_thresholds(['rating=high'])
    result = imdb_tfx('run', '--data', prepared_sample, '--home', str(tmp_path / 'home'), '--window', '2')
    assert result.returncode == 2
    assert f'--window: {prepared_sample} is not a spans folder' in result.stderr


def test_a_second_ingest_while_one_holds_the_folder_stops_at_once_and_changes_nothing(three_spans, tmp_path):
    import fcntl

    data = str(tmp_path / 'data')
    spans.ingest(spans.span_dir(three_spans, 1), data)
    before = sorted(os.listdir(data)), open(os.path.join(data, spans.SPANS_MANIFEST)).read()
    assert spans.LOCK_FILE in before[0]
    with open(os.path.join(data, spans.LOCK_FILE), 'rb') as held:  # another ingest, mid-run
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UserInputError, match=f'^{data}: another ingest .*holds it'):
            spans.ingest(spans.span_dir(three_spans, 2), data)
        with pytest.raises(UserInputError, match=f'^{data}: another ingest .*holds it'):
            spans.prepare_spans(SAMPLE_ARCHIVE, data, 2)
        result = imdb_tfx('ingest', spans.span_dir(three_spans, 2), '--data', data)
        assert result.returncode == 2, result.stderr
        assert 'Traceback' not in result.stderr  # one line, after TensorFlow's start-up noise
        last = result.stderr.strip().splitlines()[-1]
        assert last.endswith(f'{data}: another ingest (or prepare-data --spans) holds it; run this one again later')
    assert (sorted(os.listdir(data)), open(os.path.join(data, spans.SPANS_MANIFEST)).read()) == before
    # Released: the lock file is no span, and the next ingest goes on.
    assert spans.is_spans(data) and spans.span_numbers(data) == [1]
    assert spans.ingest(spans.span_dir(three_spans, 2), data)['span'] == 2


def test_a_failed_first_ingest_leaves_no_folder_and_a_lock_file_alone_counts_as_empty(three_spans, tmp_path):
    data = tmp_path / 'data'
    with pytest.raises(UserInputError):
        spans.ingest(str(tmp_path / 'missing'), str(data))
    assert not data.exists()
    data.mkdir()
    (data / spans.LOCK_FILE).touch()
    assert spans.ingest(spans.span_dir(three_spans, 1), str(data))['span'] == 1
    (tmp_path / 'linked_data').mkdir()
    os.symlink(str(tmp_path / 'elsewhere'), str(tmp_path / 'linked_data' / spans.LOCK_FILE))
    with pytest.raises(UserInputError, match='is a symbolic link'):
        spans.ingest(spans.span_dir(three_spans, 1), str(tmp_path / 'linked_data'))
    assert not (tmp_path / 'elsewhere').exists()


def test_ingest_records_the_links_it_skipped(tmp_path):
    _own_tfrecords(tmp_path / 'outside', [b'tt9'])
    _own_tfrecords(tmp_path / 'own' / 'train', [b'tt1', b'tt1', b'tt2', b'tt2'])
    os.symlink(tmp_path / 'outside' / 'data.tfrecord', tmp_path / 'own' / 'train' / 'linked.tfrecord')
    entry = spans.ingest(str(tmp_path / 'own'), str(tmp_path / 'spans'))
    assert entry['skipped_links'] == 1 and entry['labelled'] == 4
    with open(tmp_path / 'spans' / 'span-1' / prepare_data.MANIFEST) as f:
        assert json.load(f)['skipped_links'] == 1
    result = imdb_tfx('ingest', str(tmp_path / 'own'), '--data', str(tmp_path / 'spans'))
    assert result.returncode == 0, result.stderr
    assert 'span-2: 4 labelled' in result.stdout and 'skipped 1 links' in result.stdout
