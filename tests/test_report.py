"""`imdb-tfx report` on the shared end-to-end runs: every section is there,
its numbers are the artifacts' numbers, the file stands alone, and a real
browser renders it."""

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess

import pytest
import tensorflow_data_validation as tfdv
from PIL import Image

from conftest import imdb_tfx
from imdb_tfx import outcome
from imdb_tfx.modules import trainer
from imdb_tfx.report import default_path

SECTIONS = ('run', 'training', 'evaluation', 'data', 'lineage')


def cells(page: str, first: str) -> list:
    """The text of the cells of the table row whose first cell is FIRST."""
    row = re.search(r'<tr><t[dh]>' + re.escape(first) + r'</t[dh]>(.*?)</tr>', page, re.S)
    assert row, f'no table row {first!r}'
    return [
        html.unescape(re.sub('<[^>]+>', '', c)).strip()
        for c in re.findall(r'<t[dh][^>]*>(.*?)</t[dh]>', row.group(1), re.S)
    ]


@pytest.fixture(scope='module')
def report(pipeline_runs, tmp_path_factory):
    """The second shared run's report, written by `imdb-tfx report --run
    --output` to a file of the test's own."""
    path = str(tmp_path_factory.mktemp('report') / 'report.html')
    result = imdb_tfx(
        'report', '--home', pipeline_runs['home'].root, '--run', pipeline_runs['second_run'].run_id, '--output', path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == path
    with open(path, encoding='utf-8') as f:
        return dict(path=path, page=f.read(), run=pipeline_runs['second_run'])


def test_run_writes_a_report_for_each_run(pipeline_runs):
    for name in ('first', 'second'):
        run_id = pipeline_runs[f'{name}_run'].run_id
        path = default_path(pipeline_runs['home'], run_id)
        assert f'Report: {path}' in pipeline_runs[name].stdout
        with open(path, encoding='utf-8') as f:
            assert run_id in f.read()


def test_report_has_every_section_for_the_run(report):
    page, run = report['page'], report['run']
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert run.run_id in page
    for node in run.nodes.values():
        assert cells(page, node.node_id)[:2] == [node.state, f'{node.seconds:.1f}']
    assert cells(page, 'Hub handle') == [json.loads(run.nodes['Trainer'].properties['custom_config'])['hub_handle']]


def test_training_section_tells_the_self_training(report):
    with open(os.path.join(report['run'].output('Trainer', 'model_run').uri, trainer.SELF_TRAINING_FILE)) as f:
        summary = json.load(f)
    text = re.sub(r'\s+', ' ', html.unescape(re.sub('<[^>]+>', '', report['page'])))
    assert 'Self-training on 100 unlabeled reviews' in text
    for number, labelled in enumerate(summary['rounds'], start=1):
        assert (
            f'Round {number}: {labelled["pseudo_labelled"]} labelled with confidence ≥ 0.9, '
            f'best validation accuracy {labelled["best_val_accuracy"]:.4f}'
        ) in text


def test_evaluation_numbers_are_tfma_numbers(report):
    page, run = report['page'], report['run']
    result = outcome.of_run(run)
    accuracy = cells(page, 'binary_accuracy')
    # The second run evaluated the serving model against itself: equal, change 0.
    low, high = result.interval('binary_accuracy')
    assert accuracy[:4] == [
        f'{result.metrics["binary_accuracy"]:.4f}',
        f'[{low:.4f}, {high:.4f}]',
        f'{result.baseline_metrics["binary_accuracy"]:.4f}',
        '+0.0000',
    ]
    assert accuracy[5] == 'pass'
    # The gate's rules, and the paired comparison that decided the second one.
    assert cells(page, 'accuracy_floor')[0] == 'pass'
    rule, detail = cells(page, 'no_regression')
    assert rule == 'pass' and 'paired difference +0.0000 [+0.0000, +0.0000]' in detail
    assert cells(page, 'auc')[0] == f'{result.metrics["auc"]:.4f}'
    negatives, positives = cells(page, 'true negative'), cells(page, 'true positive')
    tn, fp, fn, tp = (int(v) for v in negatives + positives)
    assert tn + fp + fn + tp == result.metrics['example_count']
    assert round((tp + tn) / (tn + fp + fn + tp), 4) == round(result.metrics['binary_accuracy'], 4)
    # Per-rating slices partition the eval split: IMDB's labelled ratings are 1-4 and 7-10.
    slices = [
        (int(r), float(a), int(n))
        for r, a, n in re.findall(
            r'<tr><td>(\d+)</td><td class="num">([0-9.]+)</td><td class="num">(\d+)</td></tr>', page
        )
    ]
    assert {r for r, _, _ in slices} <= {1, 2, 3, 4, 7, 8, 9, 10} and len(slices) >= 6
    assert sum(n for _, _, n in slices) == result.metrics['example_count']
    assert sum(a * n for _, a, n in slices) / sum(n for _, _, n in slices) == pytest.approx(
        result.metrics['binary_accuracy'], abs=1e-3
    )


def test_data_numbers_are_the_statistics(report):
    page, run = report['page'], report['run']
    statistics = run.output('StatisticsGen', 'statistics').uri
    for split in ('train', 'valid', 'eval'):
        stats = tfdv.load_stats_binary(os.path.join(statistics, f'Split-{split}', 'FeatureStats.pb'))
        reviews, negative, positive, _ = cells(page, split)
        assert int(reviews) == stats.datasets[0].num_examples
        assert int(negative) + int(positive) == int(reviews)
    assert 'Data gate: <b>passed</b>; anomalies:\nnone.' in page


def test_lineage_names_producers_and_consumers(report):
    page, run = report['page'], report['run']
    model = run.output('Trainer', 'model')
    producer, consumers, uri = cells(page, f'Model #{model.id}')
    assert producer.startswith('Trainer') and uri == model.uri
    assert {'Evaluator', 'ServingCanary', 'Pusher'} <= set(consumers.split(', '))


def test_report_is_self_contained(report):
    page = report['page']
    images = re.findall(r'<img src="([^"]+)"', page)
    # Loss, accuracy, the gate's error bars, confusion matrix, probability histogram,
    # calibration, slices, lengths.
    assert len(images) == 8
    for uri in images:
        assert uri.startswith('data:image/png;base64,')
        width, height = Image.open(io.BytesIO(base64.b64decode(uri.split(',', 1)[1]))).size
        assert width > 200 and height > 200
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page) + re.findall(r'url\(([^)]*)\)', page)
    assert all(r.startswith('data:') for r in references), references
    assert '<script' not in page and '<link' not in page


CHROMIUM = shutil.which('chromium')


@pytest.mark.skipif(
    CHROMIUM is None,
    reason='Debian chromium is not installed (`make test` installs it with apt-get; it failed or was not run as root)',
)
def test_chromium_renders_the_report(report, tmp_path):
    browser = [
        CHROMIUM,
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--no-first-run',
        '--hide-scrollbars',
        f'--user-data-dir={tmp_path / "profile"}',
    ]
    screenshot = tmp_path / 'report.png'
    subprocess.run(
        browser + [f'--screenshot={screenshot}', '--window-size=1200,2400', f'file://{report["path"]}'],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = Image.open(screenshot).convert('L')
    assert pixels.size == (1200, 2400)
    low, high = pixels.getextrema()
    assert high - low > 100 and len(pixels.getcolors(1 << 16)) > 50, 'blank page'

    # The layout the browser computed: a copy of the report whose script
    # records each image's rendered size in the DOM that --dump-dom prints.
    probe = tmp_path / 'probe.html'
    probe.write_text(
        report['page'].replace(
            '</body>',
            (
                '<script>window.onload = () => document.body.setAttribute("data-sizes", JSON.stringify('
                '[...document.images].map(i => [i.naturalWidth, i.getBoundingClientRect().height])));'
                '</script></body>'
            ),
        ),
        encoding='utf-8',
    )
    dom = subprocess.run(
        browser + ['--dump-dom', '--virtual-time-budget=5000', f'file://{probe}'],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    sizes = json.loads(html.unescape(re.search(r'data-sizes="([^"]+)"', dom).group(1)))
    assert len(sizes) == 8 and all(width > 200 and height > 200 for width, height in sizes), sizes


def test_report_without_any_run_exits_2_naming_the_store(tmp_path):
    result = imdb_tfx('report', '--home', str(tmp_path / 'empty'))
    assert result.returncode == 2
    assert f'{tmp_path / "empty" / "metadata.sqlite"}: no metadata store' in result.stderr
    assert not os.path.exists(tmp_path / 'empty' / 'reports')
