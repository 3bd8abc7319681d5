"""Ten times the data: the default `imdb-tfx run` at 25,000, 100,000 and
250,000 labelled reviews, each component's wall time and peak memory.

The larger sets are made from the real reviews (the archive's 25,000
labelled and 50,000 unlabeled), copied K times. Copy 0 is the data as it is;
in copy k each review's sentences are shuffled (seeded by k and the review's
place), so that copies of a review differ unless it is one sentence (about
1 review in 70). A copy keeps its movie's id: the split hashes the movie id,
so every copy of a review lands in the split of its original, and no review
is learnt in train and scored again, reworded, in valid or eval. The
unlabeled reviews are copied in the same proportion. The words, their counts
and the review lengths stay those of the real data, which is what the cost
depends on.

    python -m benchmarks.large_data [--sizes 25000,100000,250000] [--work-dir DIR]

Writes benchmarks/large_data.md and large_data.json."""

import argparse
import datetime
import glob
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from typing import List, Tuple

import tensorflow as tf

from benchmarks import measure, report
from benchmarks.default_run import git_commit
from benchmarks.runs import component_costs
from imdb_tfx import inputs, prepare_data, run_info
from imdb_tfx.core import names
from imdb_tfx.core.home import Home
from imdb_tfx.pipeline import configs

HERE = os.path.dirname(os.path.abspath(__file__))
IMDB_TFX = os.path.join(os.path.dirname(sys.executable), 'imdb-tfx')
SIZES = (25_000, 100_000, 250_000)
SHARDS = 10
# A target of the issue: peak memory of the whole run at the largest size.
MEMORY_TARGET_BYTES = 8e9
# Cost per 1,000 reviews "flat": within this factor of the smallest size's.
FLAT_TOLERANCE = 1.10
# The Trainer's line at the end of each training (modules/progress.py), in the run's log.
_TRAINING_DONE = re.compile(r'Trainer \d+/\d+ (?P<name>.+?): (?P<epochs>\d+) epochs in (?P<seconds>\d+) s$', re.M)
_SENTENCE_END = re.compile(rb'(?<=[.!?])\s+|<br\s*/?>\s*(?:<br\s*/?>\s*)?')


def _shuffled(text: bytes, rng: random.Random) -> bytes:
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    rng.shuffle(sentences)
    return b' '.join(sentences)


def _copy(example: tf.train.Example, copy: int, index: int) -> bytes:
    if copy:
        text = example.features.feature[names.TEXT_FEATURE].bytes_list.value
        text[0] = _shuffled(text[0], random.Random(f'{copy}:{index}'))
    return example.SerializeToString(deterministic=True)


def scaled(prepared: str, copies: int, output: str) -> str:
    """PREPARED's train and unsup splits copied COPIES times into OUTPUT, a
    prepare-data output; streamed, one record at a time."""
    if prepare_data.is_prepared(output):
        return output
    manifest = prepare_data.read_manifest(prepared)

    def records():
        for split in ('train', 'unsup'):
            files = [os.path.join(prepared, f) for f in manifest['splits'][split]['files']]
            for copy in range(copies):
                dataset = tf.data.TFRecordDataset(files, compression_type='GZIP')
                for index, serialized in enumerate(dataset.as_numpy_iterator()):
                    example = tf.train.Example.FromString(serialized)
                    yield split, tf.train.Example.FromString(_copy(example, copy, index))

    tmp = f'{output}.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    splits = prepare_data.write_splits(records(), tmp, SHARDS)
    scaled_manifest = {
        'format_version': prepare_data.FORMAT_VERSION,
        'num_shards': SHARDS,
        'non_utf8_reviews': 0,
        'skipped_links': 0,
        'source': {
            'path': prepared,
            'format': f'{copies} copies of {manifest["source"]["format"]} (benchmarks/large_data.py)',
            'sha256': f'{manifest["source"]["sha256"][:48]}-x{copies}',
        },
        'splits': splits,
    }
    with open(os.path.join(tmp, prepare_data.MANIFEST), 'w', encoding='utf-8') as f:
        json.dump(scaled_manifest, f, indent=2, sort_keys=True)
    os.rename(tmp, output)
    return output


def trainings(home: Home) -> List[dict]:
    """Each training of the run's Trainer (first model, self-training rounds,
    refit): its epochs, chosen by early stopping, and its seconds."""
    found = []
    for log in sorted(glob.glob(os.path.join(home.root, 'logs', '*.log'))):
        with open(log, encoding='utf-8') as f:
            found += [
                {'name': m['name'], 'epochs': int(m['epochs']), 'seconds': float(m['seconds'])}
                for m in _TRAINING_DONE.finditer(f.read())
            ]
    return found


def run_default(data: str, work_dir: str, downloads: str) -> dict:
    """The default run (every component executed, floor 0 so that the whole
    work is done) in a fresh home that has the GloVe wheel already."""
    home = Home.at(os.path.join(work_dir, 'home'))
    os.makedirs(home.downloads_dir, exist_ok=True)
    for name in os.listdir(downloads):
        shutil.copy(os.path.join(downloads, name), home.downloads_dir)
    command = [IMDB_TFX, 'run', '--home', home.root, '--data', data, '--no-cache', '--min-accuracy', '0']
    measured = measure.run(command, log=os.path.join(work_dir, 'run.log'), timeout=4 * 3600)
    if not measured.ok:
        status = 'timed out' if measured.returncode is None else f'exit {measured.returncode}'
        print(f'{" ".join(command)}: {status}; log {measured.log}:\n{measured.log_tail()}', flush=True)
        return {'seconds': measured.seconds, 'peak_rss_bytes': measured.peak_rss, 'components': [], 'failed': status}
    run = run_info.load_run(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME)
    shutil.rmtree(home.pipeline_root, ignore_errors=True)  # hundreds of MB a size; the numbers are kept
    return {
        'seconds': measured.seconds,
        'peak_rss_bytes': measured.peak_rss,
        'components': component_costs(list(run.nodes.values()), measured),
        'trainings': trainings(home),
    }


def collect(source: str, sizes: List[int], work_dir: str, cache_home: Home) -> dict:
    prepared = inputs.prepared_data(source, cache_home)
    base = prepare_data.read_manifest(prepared)['splits']['train']['examples']
    rows: List[dict] = []
    result = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': measure.machine(),
        'rows': rows,
    }
    for size in sizes:
        if size % base:
            raise SystemExit(f'--sizes: {size} is not a multiple of the {base} labelled reviews of {source}')
        data = scaled(prepared, size // base, os.path.join(work_dir, f'data-{size}'))
        counts = {s: v['examples'] for s, v in prepare_data.read_manifest(data)['splits'].items()}
        print(f'{time.strftime("%H:%M:%S")} imdb-tfx run on {counts}', flush=True)
        measured = run_default(data, os.path.join(work_dir, f'run-{size}'), cache_home.downloads_dir)
        print(
            f'  {report.seconds(measured["seconds"])}, peak {report.gigabytes(measured["peak_rss_bytes"])}', flush=True
        )
        rows.append(
            {'labelled': counts['train'], 'unlabeled': counts.get('unsup', 0), 'commit': git_commit(), **measured}
        )
        write(result)  # after each size: a later one may take hours
        if 'failed' in measured:
            break
    return result


def _per_thousand(row: dict) -> float:
    return row['seconds'] / (row['labelled'] / 1000)


def _epochs(done: List[dict]) -> str:
    return ' + '.join(str(t['epochs']) for t in done) + f' = {sum(t["epochs"] for t in done)}'


def _per_epoch(row: dict) -> str:
    done = row['trainings']
    seconds = sum(t['seconds'] for t in done) / sum(t['epochs'] for t in done) / (row['labelled'] / 1000)
    return f'{seconds:.2f} s'


def table(result: dict) -> str:
    rows = result['rows']
    components = [c['component'] for c in rows[0]['components']]
    rows = [r for r in rows if 'failed' not in r]
    header = ['component', *(f'{r["labelled"]:,} (commit {r["commit"]}): wall, peak' for r in rows)]
    lines = []
    for component in components:
        cells = []
        for r in rows:
            c = next(c for c in r['components'] if c['component'] == component)
            cells.append(f'{report.seconds(c["seconds"])}, {report.gigabytes(c["peak_rss_bytes"])}')
        lines.append([component, *cells])
    lines.append(
        ['whole run', *(f'{report.seconds(r["seconds"])}, {report.gigabytes(r["peak_rss_bytes"])}' for r in rows)]
    )
    lines.append(['per 1,000 labelled reviews', *(report.seconds(_per_thousand(r)) for r in rows)])
    if all(r.get('trainings') for r in rows):
        lines.append(['Trainer: epochs of each training', *(_epochs(r['trainings']) for r in rows)])
        lines.append(['Trainer: time an epoch, per 1,000 labelled reviews', *(_per_epoch(r) for r in rows)])
    failed = ''.join(
        f'\n\n{r["labelled"]:,} labelled reviews: the run {r["failed"]}.' for r in result['rows'] if 'failed' in r
    )
    # What the machine did besides, noted by whoever ran it.
    noted = ''.join(f'\n\n{r["labelled"]:,} labelled reviews: {r["note"]}' for r in result['rows'] if 'note' in r)
    return report.markdown_table(header, lines) + failed + noted


def cost_ratio(result: dict) -> float:
    """The whole run's cost per 1,000 labelled reviews, largest size against smallest."""
    return _per_thousand(result['rows'][-1]) / _per_thousand(result['rows'][0])


def targets(result: dict) -> str:
    first, last = result['rows'][0], result['rows'][-1]
    if len(result['rows']) < 2 or 'failed' in last:
        return f'Not judged: {len(result["rows"])} size(s) measured so far, the last {last.get("failed", "done")}.'
    ratio = cost_ratio(result)
    memory_met = last['peak_rss_bytes'] <= MEMORY_TARGET_BYTES
    return report.markdown_table(
        ['target', 'goal', 'measured', 'met?'],
        [
            [
                f'cost per 1,000 reviews, {last["labelled"]:,} against {first["labelled"]:,}',
                f'<= {FLAT_TOLERANCE:.2f}x (flat or falling)',
                f'{ratio:.2f}x',
                'yes' if ratio <= FLAT_TOLERANCE else '**no**',
            ],
            [
                f'peak memory of the run at {last["labelled"]:,}',
                f'<= {report.gigabytes(MEMORY_TARGET_BYTES)}',
                report.gigabytes(last['peak_rss_bytes']),
                'yes' if memory_met else '**no**',
            ],
        ],
    )


def section(more: str = '') -> List[Tuple[str, str]]:
    """results.md's part 7, from the last large_data run (it runs on its own:
    over an hour), when there is one; MORE follows its tables."""
    result = report.read_json(HERE, 'large_data')
    if not result:
        return []
    intro = (
        f'`python -m benchmarks.large_data`, run on its own (not by `make bench`) on {result["date"]}; '
        'how the data is made and measured: [large_data.md](large_data.md).'
    )
    return [('7. Ten times the data', '\n\n'.join(filter(None, [intro, targets(result), table(result), more])))]


def write(result: dict) -> None:
    text = (
        report.page_heading('Ten times the data', 'large_data', result)
        + ' The default `imdb-tfx run --no-cache --min-accuracy 0` in a fresh home per size; '
        'how the data is made: the docstring of benchmarks/large_data.py. '
        'Wall time from ML Metadata; peak memory of the whole process tree, sampled every 0.2 s.\n\n'
        f'{targets(result)}\n\n{table(result)}\n'
    )
    report.write_json_and_markdown(HERE, 'large_data', result, text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', help='Any prepare-data SOURCE (default: as `imdb-tfx run`).')
    parser.add_argument('--sizes', default=','.join(map(str, SIZES)), help='Labelled reviews per run.')
    parser.add_argument('--home', default='home', help='Cache home: the prepared data and the GloVe wheel.')
    parser.add_argument('--work-dir', help='The scaled data and the runs (default: a temporary folder, removed).')
    args = parser.parse_args(argv)
    cache_home = Home.at(args.home)
    from imdb_tfx.components.embedding_builder import word_vectors

    word_vectors.download_kumo_wheel(cache_home.downloads_dir)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='imdb-large-')
    result = collect(
        args.data or inputs.default_source(), [int(s) for s in args.sizes.split(',')], work_dir, cache_home
    )
    write(result)
    if not args.work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == '__main__':
    main()
