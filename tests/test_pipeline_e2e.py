"""The whole pipeline under LocalDagRunner on the committed sample of real
reviews, driven through the `imdb-tfx` console script as a user would."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import imdb_tfx
from imdb_tfx import outcome
from imdb_tfx.core import names, serving
from imdb_tfx.modules import trainer
from imdb_tfx.pipeline import recipes

COMPONENTS = [
    'ImportExampleGen',
    'UnlabeledExampleGen',
    'StatisticsGen',
    'ImportSchemaGen',
    'ExampleValidator',
    'DataGate',
    'Trainer',
    'ServingBaseline',
    'Evaluator',
    'ServingCanary',
    'Pusher',
]
# What a second run with unchanged inputs reuses: all but what depends on the
# serving directory (ServingBaseline always reads it afresh).
REUSED = [
    'ImportExampleGen',
    'UnlabeledExampleGen',
    'StatisticsGen',
    'ImportSchemaGen',
    'ExampleValidator',
    'DataGate',
    'Trainer',
    'ServingCanary',
]


@pytest.fixture(scope='module')
def runs(pipeline_runs):
    return pipeline_runs


def test_first_run_executes_every_component(runs):
    assert runs['first'].returncode == 0, runs['first'].stderr[-3000:]
    states = {n.node_id: n.state for n in runs['first_run'].nodes.values()}
    assert all(states.get(c) == 'COMPLETE' for c in COMPONENTS), states


def test_first_run_is_blessed_and_pushed(runs):
    result = outcome.of_run(runs['first_run'])
    assert result.blessed is True
    assert result.metrics['binary_accuracy'] >= 0.6
    assert 150 < result.metrics['example_count'] < 350  # ~20% of the sample's 1,000 labelled reviews
    assert not result.baseline_metrics  # nothing was serving: value threshold only
    versions = serving.versions(runs['home'].serving_dir)
    assert len(versions) == 1
    assert result.pushed_path == os.path.join(runs['home'].serving_dir, versions[0])
    assert f'Blessed and pushed: {result.pushed_path}' in runs['first'].stdout


def test_movie_split_puts_no_movie_on_two_splits(runs):
    examples = runs['first_run'].output('ImportExampleGen', 'examples')
    movies, reviews = {}, {}
    for split in ('train', 'valid', 'eval'):
        files = tf.io.gfile.glob(os.path.join(examples.uri, f'Split-{split}', '*'))
        ids = [
            tf.train.Example.FromString(r.numpy()).features.feature['movie_id'].bytes_list.value[0]
            for r in tf.data.TFRecordDataset(files, 'GZIP')
        ]
        movies[split], reviews[split] = set(ids), len(ids)
    assert len(movies['train']) > 50 and len(movies['valid']) > 5 and len(movies['eval']) > 10
    assert not movies['train'] & movies['eval'] and not movies['train'] & movies['valid']
    assert not movies['valid'] & movies['eval']
    assert sum(reviews.values()) == 1000 and reviews['train'] > reviews['eval'] > reviews['valid']


def test_each_split_has_one_job(runs):
    """The Trainer fits on train and chooses on valid; only the Evaluator
    and the canary read eval; the exported model is refitted on train + valid."""
    nodes = runs['first_run'].nodes
    assert json.loads(nodes['Trainer'].properties['train_args']) == {'splits': ['train']}
    assert json.loads(nodes['Trainer'].properties['eval_args']) == {'splits': ['valid']}
    assert json.loads(nodes['Evaluator'].properties['example_splits']) == ['eval']
    run_dir = runs['first_run'].output('Trainer', 'model_run').uri
    with open(os.path.join(run_dir, trainer.HISTORY_FILE)) as f:
        history = json.load(f)
    with open(os.path.join(run_dir, trainer.REFIT_FILE)) as f:
        refit = json.load(f)
    assert refit['epochs'] == trainer.chosen_epochs(recipes.get('best').hyperparameters, history) <= 8


def test_trainer_self_trains_on_the_unlabeled_reviews(runs):
    """The default recipe self-trains: UnlabeledExampleGen's one split of the
    sample's 100 unlabeled reviews reaches the Trainer, the teacher labels
    them, and the student is trained on the labelled reviews plus those."""
    run = runs['first_run']
    unlabeled = run.output('UnlabeledExampleGen', 'examples')
    assert os.listdir(unlabeled.uri) == ['Split-unlabeled']
    files = tf.io.gfile.glob(os.path.join(unlabeled.uri, 'Split-unlabeled', '*'))
    assert sum(1 for _ in tf.data.TFRecordDataset(files, 'GZIP')) == 100
    run_dir = run.output('Trainer', 'model_run').uri
    with open(os.path.join(run_dir, trainer.SELF_TRAINING_FILE)) as f:
        summary = json.load(f)
    assert summary['unlabeled_reviews'] == 100 and summary['confidence'] == 0.9
    # The best recipe's two rounds, each keeping the reviews its teacher labels with 0.9 confidence
    # (a teacher of 360 reviews may be that sure of none of them in a round, not in both).
    assert len(summary['rounds']) == 2
    assert all(0 <= r['pseudo_labelled'] <= 100 for r in summary['rounds'])
    assert sum(r['pseudo_labelled'] for r in summary['rounds']) > 0
    assert os.path.exists(os.path.join(run_dir, trainer.TEACHER_HISTORY_FILE))


def test_pushed_model_answers_through_both_signatures(runs):
    loaded = tf.saved_model.load(serving.newest(runs['home'].serving_dir))
    texts = ['A wonderful, moving film with brilliant acting.', 'Dull, boring and far too long.']
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={'text': tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode()]))}
            )
        ).SerializeToString()
        for t in texts
    ]
    by_text = loaded.signatures[names.TEXT_SIGNATURE](text=tf.constant(texts))
    by_example = loaded.signatures[names.EXAMPLES_SIGNATURE](examples=tf.constant(examples))
    np.testing.assert_allclose(by_text['probability'], by_example['probability'], atol=1e-6)
    assert by_text['probability'].shape == (2, 1)


def test_predict_answers_from_the_newest_pushed_model(runs):
    result = imdb_tfx('predict', '--home', runs['home'].root, 'A wonderful film.', 'Awful.')
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split('\t')[1] for line in lines] == ['A wonderful film.', 'Awful.']
    assert all(0 <= float(line.split('\t')[0]) <= 1 for line in lines)


def test_second_run_reuses_the_unchanged_work(runs):
    assert runs['second'].returncode == 0, runs['second'].stderr[-3000:]
    states = {n.node_id: n.state for n in runs['second_run'].nodes.values()}
    assert all(states[c] == 'CACHED' for c in REUSED), states
    # The model is already serving: compared with itself, blessed, not pushed twice.
    second = outcome.of_run(runs['second_run'])
    assert second.blessed and second.baseline_metrics
    assert len(serving.versions(runs['home'].serving_dir)) == 1
    assert second.pushed_path == outcome.of_run(runs['first_run']).pushed_path


# A line of the project's own on the console of `imdb-tfx run`: a component
# as it ended, the Trainer's phases, the summary, notes, where things are.
PROJECT_LINE = (
    r'^(  \w+ +(done|cached|skipped|FAILED) +[\d.]+ (s|min \d\d s)'
    r'|  Trainer \d/\d .+'
    r'|Run \S+|Reused from .+|Data gate: .+|Drift gate: .+|Eval: .+|Calibration: .+|Serving model: .+'
    r'|Gate \w+: .+|Serving canary: .+|Blessed.+|REJECTED.+|FAILED.+'
    r'|Note: .+|Report: .+|Log: .+|Pipeline time: \d+ s'
    r'|Preparing .+|Converting .+|Found .+|Wrote .+|Read \d+ GloVe .+|Downloading .+)$'
)


@pytest.mark.parametrize('which', ['first', 'second'])
def test_the_console_shows_only_the_projects_lines_and_the_log_has_the_libraries(runs, which):
    import re

    result = runs[which]
    lines = result.stdout.splitlines()
    assert [line for line in lines if not re.match(PROJECT_LINE, line)] == []
    assert result.stderr == ''
    nodes = [re.match(r'^  (\w+) +(done|cached)', line) for line in lines]
    assert {m.group(1) for m in nodes if m} == set(runs[f'{which}_run'].nodes)
    assert len(lines) <= 40
    log = re.search(r'^Log: (.+)$', result.stdout, re.M).group(1)
    with open(log, encoding='utf-8') as f:
        logged = f.read()
    assert 'INFO absl: Component Pusher is finished.' in logged
    if which == 'first':  # TensorFlow's C++ start-up lines, and the libraries' Python warnings
        assert re.search(r'^\d{4}-\d\d-\d\d [\d:.]+: [EWI] external/', logged, re.M)
        assert 'Warning: ' in logged
