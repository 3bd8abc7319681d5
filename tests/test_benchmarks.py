"""Smoke test of the benchmark (`python -m benchmarks --smoke`): a tiny run of
every part on the committed sample, checking that results.json and
results.md carry every table's fields. No number is asserted."""

import json
import subprocess
import sys

import pytest
import tensorflow as tf

from benchmarks import beam_modes, measure, plain_keras, report, scaling
from benchmarks.suite import PARTS

TABLE_HEADERS = {
    'plain': '| plain script | pipeline |',
    'components': '| component | wall time | share | peak RSS while running | RSS growth |',
    'scaling': '| per 1,000 reviews (fit) | growth |',
    'serving': '| signature | batch | reviews/s | p50 ms | p99 ms | calls |',
    'beam': '| component | mode | status | median wall time | runs | peak RSS (with workers) |',
    'text_module': "| batch | reference reviews/s | previous reviews/s | today's reviews/s | today / reference |",
}


def _side_and_label(record: bytes):
    feature = tf.train.Example.FromString(record).features.feature
    return (plain_keras.split_index(feature['movie_id'], [3, 5]), feature['label'].int64_list.value[0])


@pytest.fixture(scope='module')
def balanced_sample(prepared_sample, tmp_path_factory) -> str:
    """The sample's reviews with labels balanced on each side of the seed's
    movie split. The whole sample is too few movies for a 60/40 movie split
    to pass the data gate's label-drift check; the full archive's subsets,
    with many more movies, pass it."""
    groups = {}
    for record in scaling.labelled_records(prepared_sample):
        groups.setdefault(_side_and_label(record), []).append(record)
    kept = []
    for side in (0, 1):
        count = min(len(groups[(side, 0)]), len(groups[(side, 1)]))
        kept += groups[(side, 0)][:count] + groups[(side, 1)][:count]
    return scaling.write_prepared(
        kept, prepared_sample, str(tmp_path_factory.mktemp('balanced')), 'labels balanced per seed split side'
    )


@pytest.fixture(scope='module')
def smoke(balanced_sample, tiny_embedding, tiny_glove_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp('bench')
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'benchmarks',
            '--smoke',
            '--data',
            balanced_sample,
            '--hub',
            tiny_embedding,
            '--glove-dir',
            tiny_glove_dir,
            '--output-dir',
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(output / 'results.json', encoding='utf-8') as f:
        data = json.load(f)
    return data, (output / 'results.md').read_text(encoding='utf-8')


def test_split_reproduces_example_gen_partition():
    """The plain script's split is TFX's own partition function."""
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2

    config = example_gen_pb2.SplitConfig(partition_feature_name='movie_id')
    for movie in (b'tt0000001', b'tt0453418', b'tt9999999', b''):
        example = tf.train.Example(
            features=tf.train.Features(
                feature={'movie_id': tf.train.Feature(bytes_list=tf.train.BytesList(value=[movie]))}
            )
        )
        assert plain_keras.split_index(example.features.feature['movie_id'], [3, 5]) == _PartitionFn(
            example, 2, [3, 5], config
        )


def test_subset_is_a_deterministic_prepared_output(prepared_sample, tmp_path):
    from imdb_tfx import inputs, prepare_data

    first = scaling.subset(prepared_sample, 300, str(tmp_path / 'a'))
    second = scaling.subset(prepared_sample, 300, str(tmp_path / 'b'))
    assert prepare_data.is_prepared(first)
    inputs.check_split(first, 'movie')
    assert scaling.labelled_count(first) == 300
    assert scaling.labelled_records(first) == scaling.labelled_records(second)
    assert set(scaling.labelled_records(first)) <= set(scaling.labelled_records(prepared_sample))


def test_growth_tells_linear_from_fixed_and_superlinear():
    sizes = [2500, 10000, 25000]
    linear = scaling.growth(sizes, [10 + 2 * n / 1000 for n in sizes])
    assert linear['verdict'] == 'linear'
    assert linear['fixed_seconds'] == pytest.approx(10) and linear['seconds_per_1k'] == pytest.approx(2)
    assert scaling.growth(sizes, [5.0, 5.01, 4.99])['verdict'] == 'flat (fixed cost only)'
    assert scaling.growth(sizes, [(n / 1000) ** 2 for n in sizes])['verdict'] == 'superlinear'
    assert scaling.growth([1000], [5.0])['verdict'] == 'n/a (one size)'


def test_results_are_written_into_a_folder_made_for_them(tmp_path):
    """A benchmark writes at its end: a missing output folder must not lose its work."""
    output_dir = tmp_path / 'not' / 'there'
    report.write_json_and_markdown(str(output_dir), 'part', {'rate': 1.5}, '# Part\n')
    assert report.read_json(str(output_dir), 'part') == {'rate': 1.5}
    assert (output_dir / 'part.md').read_text(encoding='utf-8') == '# Part\n'


def test_plain_model_is_the_pipeline_model(tiny_embedding):
    from imdb_tfx.modules import model as model_lib
    from imdb_tfx.modules.hparams import Hyperparameters

    hp = Hyperparameters(hub_handle=tiny_embedding)
    plain = plain_keras.build_model(tiny_embedding, hp.hidden_units, hp.learning_rate)
    ours = model_lib.build_model(hp)
    assert [w.shape for w in plain.weights] == [w.shape for w in ours.weights]
    assert plain.optimizer.get_config()['learning_rate'] == ours.optimizer.get_config()['learning_rate']


@pytest.mark.slow
def test_smoke_run_writes_every_part(smoke):
    data, markdown = smoke
    assert {
        'machine',
        'config',
        'targets',
        'total_seconds',
        'plain_vs_pipeline',
        'components',
        'scaling',
        'serving',
        'beam_modes',
        'text_module',
    } <= set(data)
    assert {'cores', 'memory_bytes', 'cpu_model', 'versions'} <= set(data['machine'])
    for part in PARTS:
        assert TABLE_HEADERS[part] in markdown, part
    assert '## Targets' in markdown


@pytest.mark.slow
def test_plain_vs_pipeline_fields(smoke):
    part = smoke[0]['plain_vs_pipeline']
    for side in ('plain', 'pipeline'):
        assert {'seconds', 'peak_rss_bytes', 'eval_accuracy', 'train_examples', 'eval_examples'} <= set(part[side])
    assert {'ratio', 'same_split'} <= set(part)
    assert part['same_split'] is True  # the plain script splits exactly like ImportExampleGen


@pytest.mark.slow
def test_components_fields(smoke):
    rows = smoke[0]['components']['rows']
    names = {r['component'] for r in rows}
    assert {'ImportExampleGen', 'StatisticsGen', 'Trainer', 'Evaluator', 'Pusher'} <= names
    assert all({'seconds', 'share', 'peak_rss_bytes', 'rss_growth_bytes'} <= set(r) for r in rows)


@pytest.mark.slow
def test_scaling_fields(smoke):
    part = smoke[0]['scaling']
    assert len(part['sizes']) == len(part['ratio']) >= 1
    series = {r['series']: r for r in part['rows']}
    assert {'pipeline', 'plain script', 'Trainer'} <= set(series)
    assert all({'seconds', 'fixed_seconds', 'seconds_per_1k', 'verdict'} <= set(r) for r in part['rows'])


@pytest.mark.slow
def test_serving_fields(smoke):
    part = smoke[0]['serving']
    measured = {(r['signature'], r['batch']) for r in part['rows']}
    assert measured == {(s, b) for s in ('serving_text', 'serving_default') for b in (1, 64, 1000)}
    assert all({'reviews_per_second', 'p50_ms', 'p99_ms'} <= set(r) for r in part['rows'])


@pytest.mark.slow
def test_beam_modes_fields(smoke):
    part = smoke[0]['beam_modes']
    assert {(r['component'], r['mode']) for r in part['rows']} == {
        (c, m) for c in ('StatisticsGen', 'Evaluator') for m in ('in_memory', 'multi_threading', 'multi_processing')
    }
    # Every mode finishes both components; a failure names its reason here.
    assert [(r['component'], r['mode'], r['error']) for r in part['rows'] if r['status'] != 'ok'] == []
    assert {'fastest', 'current_default'} <= set(part)


@pytest.mark.slow
def test_text_module_fields(smoke):
    rows = smoke[0]['text_module']['rows']
    assert [r['batch'] for r in rows] == [1, 1000]
    assert all(r['speedup'] > 0 and r['against_previous'] > 0 for r in rows)
    assert all(len(r['rounds']['today']) == len(r['rounds']['reference']) == len(r['rounds']['previous']) for r in rows)


@pytest.mark.slow
def test_targets_fields(smoke):
    targets = smoke[0]['targets']
    assert len(targets) == 6  # the pipeline's 3, and the text module's speedups at batch 1 and 1,000 and its rate
    assert all({'target', 'goal', 'measured', 'met'} <= set(t) for t in targets)
    assert all(t['measured'] is not None for t in targets)


def test_a_crash_in_native_code_is_named_by_the_frame_that_made_it(tmp_path):
    """A real segmentation fault in a child that measure.run starts: its log
    has faulthandler's dump, and the mode's error names the signal, the
    fatal error and the frames that made it."""
    script = tmp_path / 'crash.py'
    script.write_text('import ctypes\n\n\ndef read_address_zero():\n    ctypes.string_at(0)\n\n\nread_address_zero()\n')
    measured = measure.run([sys.executable, str(script)], log=str(tmp_path / 'crash.log'))
    error = beam_modes._error_of(measured.log, 'failed', 60, measured.returncode)
    assert error.startswith('killed by SIGSEGV: Fatal Python error: Segmentation fault in File ')
    assert 'in string_at < File ' in error and f'"{script}", line 5 in read_address_zero' in error
