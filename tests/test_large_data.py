"""The scaled data of benchmarks.large_data: K copies of the real reviews
that keep the movie-grouped split honest."""

import collections
import json
import logging
import os
import subprocess
import sys

from benchmarks import large_data, linear_memory
from conftest import read_split
from imdb_tfx import prepare_data
from imdb_tfx.core import names
from imdb_tfx.core.home import Home
from imdb_tfx.modules import progress


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


def test_the_linear_step_is_measured_with_todays_code_and_the_previous(prepared_sample, tiny_glove_dir, tmp_path):
    labelled = prepare_data.read_manifest(prepared_sample)['splits']['train']['examples']
    command = [sys.executable, '-m', 'benchmarks.linear_memory', '--data', prepared_sample, '--home', str(tmp_path)]
    command += ['--glove-dir', tiny_glove_dir, '--sizes', f'{labelled},{2 * labelled}', '--work-dir', str(tmp_path)]
    command += ['--output-dir', str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / 'linear_memory.json').read_text(encoding='utf-8'))
    assert [row['labelled'] for row in written['rows']] == [labelled, 2 * labelled]
    for row in written['rows']:
        for version in linear_memory.VERSIONS:
            assert row[version]['seconds'] > 0 and row[version]['step_peak_bytes'] > 0
    assert '| labelled reviews | previous (829004b): peak |' in (tmp_path / 'linear_memory.md').read_text()


def test_each_training_is_read_from_the_runs_log(tmp_path):
    home = Home.at(str(tmp_path / 'home'))
    os.makedirs(os.path.join(home.root, 'logs'))
    handler = logging.FileHandler(os.path.join(home.root, 'logs', 'run.log'))
    handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
    progress.log.addHandler(handler)
    try:
        for index, (name, epochs, seconds) in enumerate([('first model', 8, 42.4), ('refit on train + valid', 3, 45)]):
            progress.report(progress.Phase(name, index + 1, 2, epochs, 25, seconds, finished=True, best_epoch=5))
            progress.report(progress.Phase(name, index + 1, 2, 2, 25, 10))  # an epoch's line: not a training's end
    finally:
        progress.log.removeHandler(handler)
        handler.close()
    assert large_data.trainings(home) == [
        {'name': 'first model', 'epochs': 8, 'seconds': 42.0},
        {'name': 'refit on train + valid', 'epochs': 3, 'seconds': 45.0},
    ]
