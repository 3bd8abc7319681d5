"""Part 1: the pipeline against the plain script, same data and same work:
wall time of each (median over the repeats), their ratio, and the accuracy
each reaches on the same eval split."""

import statistics
from typing import List

from benchmarks import report
from benchmarks.runs import PipelineResult
from imdb_tfx.core import names


def collect(size: int, plains: List[dict], pipelines: List[PipelineResult]) -> dict:
    runs = [p.summary for p in pipelines]
    plain_seconds = statistics.median(p['seconds'] for p in plains)
    pipeline_seconds = statistics.median(p['seconds'] for p in runs)
    first_plain, first_run = plains[0], runs[0]
    return {
        'size': size,
        'repeats': len(runs),
        'plain': {
            'seconds': plain_seconds,
            'runs_seconds': [p['seconds'] for p in plains],
            'fit_seconds': statistics.median(p['fit_seconds'] for p in plains),
            'peak_rss_bytes': max(p['peak_rss_bytes'] for p in plains),
            'eval_accuracy': statistics.median(p['eval_accuracy'] for p in plains),
            'train_examples': first_plain['train_examples'],
            'eval_examples': first_plain['eval_examples'],
        },
        'pipeline': {
            'seconds': pipeline_seconds,
            'runs_seconds': [p['seconds'] for p in runs],
            'trainer_seconds': statistics.median(_seconds(p, names.TRAINER) for p in runs),
            'peak_rss_bytes': max(p['peak_rss_bytes'] for p in runs),
            'eval_accuracy': statistics.median(p['eval_accuracy'] for p in runs),
            'eval_accuracy_keras': statistics.median(p['eval_accuracy_keras'] for p in runs),
            'train_examples': first_run['train_examples'],
            'eval_examples': first_run['eval_examples'],
        },
        'ratio': pipeline_seconds / plain_seconds,
        # Both sides split alike when the counts per split agree.
        'same_split': (first_plain['train_examples'], first_plain['eval_examples'])
        == (first_run['train_examples'], first_run['eval_examples']),
    }


def _seconds(summary: dict, component: str) -> float:
    return next(c['seconds'] for c in summary['components'] if c['component'] == component)


def table(result: dict) -> str:
    plain, pipe = result['plain'], result['pipeline']
    rows = [
        ['wall time (median)', report.seconds(plain['seconds']), report.seconds(pipe['seconds'])],
        [
            'runs',
            ', '.join(report.seconds(s) for s in plain['runs_seconds']),
            ', '.join(report.seconds(s) for s in pipe['runs_seconds']),
        ],
        [
            'training (plain: fit; pipeline: Trainer component)',
            report.seconds(plain['fit_seconds']),
            report.seconds(pipe['trainer_seconds']),
        ],
        [
            'peak RSS (process tree)',
            report.gigabytes(plain['peak_rss_bytes']),
            report.gigabytes(pipe['peak_rss_bytes']),
        ],
        [
            'train / eval reviews',
            f'{plain["train_examples"]:,} / {plain["eval_examples"]:,}',
            f'{pipe["train_examples"]:,} / {pipe["eval_examples"]:,}',
        ],
        ['eval accuracy (Keras, last epoch)', f'{plain["eval_accuracy"]:.4f}', f'{pipe["eval_accuracy_keras"]:.4f}'],
        ['eval accuracy (pipeline: TFMA)', '', f'{pipe["eval_accuracy"]:.4f}'],
    ]
    return (
        report.markdown_table(['', 'plain script', 'pipeline'], rows)
        + f'\n\n**Pipeline / plain script: {result["ratio"]:.2f}x** on {result["size"]:,} labelled '
        f'reviews ({result["repeats"]} run(s) each, back to back). Same split on both sides: '
        f'{"yes" if result["same_split"] else "NO"} (reviews per split).'
    )
