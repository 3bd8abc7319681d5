"""Part 3: how the cost grows with the number of labelled reviews.

Subsets are prepare-data outputs of their own (TFRecords + manifest, so that
`imdb-tfx run` takes them as they are): the N labelled reviews with the
smallest sha256 of their serialized record, a deterministic sample that keeps
whole-archive proportions, in their original order."""

import hashlib
import json
import os
import statistics
from typing import Dict, List

import tensorflow as tf

from benchmarks import report
from benchmarks.runs import PipelineResult
from imdb_tfx import prepare_data

SHARDS = 4
# Two segment slopes within this factor of each other: linear growth.
LINEAR_TOLERANCE = 1.33


def labelled_count(data_root: str) -> int:
    return prepare_data.read_manifest(data_root)['splits']['train']['examples']


def labelled_records(data_root: str) -> List[bytes]:
    """The serialized tf.Examples of a prepared train/ split, in file order."""
    manifest = prepare_data.read_manifest(data_root)
    files = [os.path.join(data_root, f) for f in manifest['splits']['train']['files']]
    return list(tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator())


def subset(data_root: str, size: int, output: str) -> str:
    """The first `size` labelled reviews by hash, written like prepare-data."""
    records = labelled_records(data_root)
    keep = set(sorted(range(len(records)), key=lambda i: hashlib.sha256(records[i]).digest())[:size])
    return write_prepared([r for i, r in enumerate(records) if i in keep], data_root, output, f'first {size} by sha256')


def write_prepared(records: List[bytes], data_root: str, output: str, selection: str) -> str:
    """`records` (from data_root's labelled reviews) as a prepare-data output
    of their own: round-robin gzip shards, then the manifest."""
    manifest = prepare_data.read_manifest(data_root)
    os.makedirs(os.path.join(output, 'train'), exist_ok=True)
    names = [f'train/data-{i:05d}-of-{SHARDS:05d}.tfrecord.gz' for i in range(SHARDS)]
    labels: Dict[str, int] = {}
    writers = [tf.io.TFRecordWriter(os.path.join(output, n), options='GZIP') for n in names]
    for i, record in enumerate(records):
        writers[i % SHARDS].write(record)
        label = str(tf.train.Example.FromString(record).features.feature['label'].int64_list.value[0])
        labels[label] = labels.get(label, 0) + 1
    for writer in writers:
        writer.close()
    source = manifest['source']
    subset_manifest = {
        'format_version': manifest['format_version'],
        'num_shards': SHARDS,
        'non_utf8_reviews': 0,
        'source': {
            'path': data_root,
            'format': f'{selection} of {source["format"]}',
            'sha256': hashlib.sha256(f'{source["sha256"]}:{selection}'.encode()).hexdigest(),
        },
        'splits': {
            'train': {
                'examples': len(records),
                'files': names,
                'labels': labels,
                'features': manifest['splits']['train']['features'],
            }
        },
    }
    # The manifest last: it marks a complete output (prepare_data.is_prepared).
    with open(os.path.join(output, prepare_data.MANIFEST), 'w', encoding='utf-8') as f:
        json.dump(subset_manifest, f, indent=2, sort_keys=True)
    return output


def growth(sizes: List[int], seconds: List[float]) -> dict:
    """Fixed cost and marginal cost of a series: the least-squares line
    t = fixed + per_1k * n / 1000, and whether the slopes between consecutive
    sizes agree (linear), fall (sublinear) or rise (superlinear)."""
    if len(sizes) < 2:
        return {
            'fixed_seconds': None,
            'seconds_per_1k': None,
            'segment_seconds_per_1k': [],
            'verdict': 'n/a (one size)',
        }
    mean_n, mean_t = statistics.fmean(sizes), statistics.fmean(seconds)
    slope = sum((n - mean_n) * (t - mean_t) for n, t in zip(sizes, seconds)) / sum((n - mean_n) ** 2 for n in sizes)
    slopes = [(t2 - t1) / (n2 - n1) for n1, n2, t1, t2 in zip(sizes, sizes[1:], seconds, seconds[1:])]
    first, last = slopes[0], slopes[-1]
    if max(abs(s) for s in slopes) * 1000 < 0.05 or max(slopes) <= 0:
        verdict = 'flat (fixed cost only)'
    elif len(slopes) < 2:
        verdict = 'n/a (two sizes)'
    elif first <= 0 or last / first > LINEAR_TOLERANCE:
        verdict = 'superlinear'
    elif last / first < 1 / LINEAR_TOLERANCE:
        verdict = 'sublinear'
    else:
        verdict = 'linear'
    return {
        'fixed_seconds': mean_t - slope * mean_n,
        'seconds_per_1k': slope * 1000,
        'segment_seconds_per_1k': [s * 1000 for s in slopes],
        'verdict': verdict,
    }


def collect(plains: Dict[int, List[dict]], pipelines: Dict[int, List[PipelineResult]]) -> dict:
    sizes = sorted(pipelines)
    by_size = {n: [p.summary for p in pipelines[n]] for n in sizes}
    series: Dict[str, List[float]] = {'pipeline': [statistics.median(r['seconds'] for r in by_size[n]) for n in sizes]}
    if all(plains.get(n) for n in sizes):
        series['plain script'] = [statistics.median(p['seconds'] for p in plains[n]) for n in sizes]
    for component in [c['component'] for c in by_size[sizes[-1]][0]['components']]:
        series[component] = [
            statistics.median(
                next(c['seconds'] for c in r['components'] if c['component'] == component) for r in by_size[n]
            )
            for n in sizes
        ]
    return {
        'sizes': sizes,
        'rows': [{'series': name, 'seconds': values, **growth(sizes, values)} for name, values in series.items()],
        'ratio': (
            [p / q for p, q in zip(series['pipeline'], series['plain script'])] if 'plain script' in series else None
        ),
    }


def table(result: dict) -> str:
    sizes = result['sizes']
    rows = [
        [
            r['series'],
            *(report.seconds(s) for s in r['seconds']),
            report.seconds(r['fixed_seconds']),
            report.seconds(r['seconds_per_1k']),
            r['verdict'],
        ]
        for r in result['rows']
    ]
    if result['ratio']:
        rows.append(['pipeline / plain', *(f'{x:.2f}x' for x in result['ratio']), '', '', ''])
    return (
        report.markdown_table(
            ['', *(f'{n:,} reviews' for n in sizes), 'fixed (fit)', 'per 1,000 reviews (fit)', 'growth'], rows
        )
        + f'\n\nFixed and per-1,000 costs are a least-squares line over the sizes; growth is '
        f'"linear" when the slopes between consecutive sizes agree within {LINEAR_TOLERANCE}x.'
    )
