"""The scaled data of benchmarks.large_data: K copies of the real reviews
that keep the movie-grouped split honest."""

import collections

from benchmarks import large_data
from conftest import read_split
from imdb_tfx import prepare_data
from imdb_tfx.core import names


def words(text: bytes) -> collections.Counter:
    return collections.Counter(large_data._SENTENCE_END.sub(b' ', text).split())


def test_copies_keep_their_movie_so_every_copy_lands_in_its_originals_split(prepared_sample, tmp_path):
    scaled = large_data.scaled(prepared_sample, 3, str(tmp_path / 'x3'))
    original, copied = read_split(prepared_sample, 'train'), read_split(scaled, 'train')
    assert prepare_data.read_manifest(scaled)['splits']['train']['examples'] == 3 * len(original) == len(copied)
    movies_of = collections.defaultdict(set)
    for record in original:
        movies_of[(record[names.LABEL_FEATURE], frozenset(words(record[names.TEXT_FEATURE]).items()))].add(
            record[names.MOVIE_FEATURE]
        )
    for record in copied:
        key = (record[names.LABEL_FEATURE], frozenset(words(record[names.TEXT_FEATURE]).items()))
        # A copy is its original's words, label and movie: the split hashes the movie id.
        assert record[names.MOVIE_FEATURE] in movies_of[key]
    texts = collections.Counter(r[names.TEXT_FEATURE] for r in copied)
    # Copies of a review differ unless it is one sentence.
    assert sum(1 for count in texts.values() if count == 1) > len(original)
