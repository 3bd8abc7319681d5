"""The tutorial as a plain Keras script, what a user would run instead of the
pipeline: the same prepared TFRecords, the same TF-Hub module, the same
movie-grouped 60/40 split, model, epochs, batch and learning rate.

    python benchmarks/plain_keras.py --data PREPARED --hub MODULE [--epochs 20 ...] --output RESULT.json

Standalone on purpose: TensorFlow and tensorflow_hub only, nothing of this
project (benchmarks.vs_plain runs it as a subprocess and times it)."""

import argparse
import bisect
import glob
import hashlib
import itertools
import json
import os
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')  # hub.KerasLayer needs Keras 2

import tensorflow as tf  # noqa: E402
import tensorflow_hub as hub  # noqa: E402


def split_index(feature: tf.train.Feature, cumulative_buckets) -> int:
    """TFX ExampleGen's partition (base_example_gen_executor._PartitionFn):
    sha256 of the partition feature's deterministic serialization, as an
    integer, modulo the total bucket count; the split is the first whose
    cumulative bucket count exceeds it."""
    digest = hashlib.sha256(feature.SerializeToString(deterministic=True)).hexdigest()
    return bisect.bisect(cumulative_buckets, int(digest, 16) % cumulative_buckets[-1])


def load_splits(data_dir: str, hash_buckets, partition_feature='movie_id'):
    """[(texts, labels)] per split of the labelled reviews, split like the
    pipeline's ImportExampleGen: train, valid and eval by movie in the ratio
    of hash_buckets (the benchmark passes pipeline/configs.py's SPLIT_BUCKETS),
    no movie on two splits."""
    files = sorted(glob.glob(os.path.join(data_dir, 'train', '*')))
    if not files:
        raise SystemExit(f'{data_dir}: no train/ TFRecords (run imdb-tfx prepare-data)')
    cumulative = list(itertools.accumulate(hash_buckets))
    splits = [([], []) for _ in hash_buckets]
    for record in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature
        texts, labels = splits[split_index(feature[partition_feature], cumulative)]
        texts.append(feature['text'].bytes_list.value[0])
        labels.append(float(feature['label'].int64_list.value[0]))
    return splits


def build_model(hub_handle: str, hidden_units: int, learning_rate: float) -> tf.keras.Model:
    """The tutorial's model: hub layer (fine-tuned) -> Dense(16, relu) -> Dense(1) logits."""
    model = tf.keras.Sequential(
        [
            hub.KerasLayer(hub_handle, input_shape=[], dtype=tf.string, trainable=True),
            tf.keras.layers.Dense(hidden_units, activation='relu'),
            tf.keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0, name='accuracy')],
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True, help='prepare-data output (train/*.tfrecord.gz)')
    parser.add_argument('--hub', required=True, help='TF-Hub text-embedding module')
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--batch-size', type=int, default=512)
    parser.add_argument('--learning-rate', type=float, default=1e-3)
    parser.add_argument('--hidden-units', type=int, default=16)
    parser.add_argument('--split-buckets', type=int, nargs=3, required=True, help='train valid eval hash buckets')
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--output', help='write the result as JSON here (default: stdout)')
    args = parser.parse_args(argv)

    started = time.perf_counter()
    tf.keras.utils.set_random_seed(args.seed)
    (train_texts, train_labels), valid, (eval_texts, eval_labels) = load_splits(args.data, tuple(args.split_buckets))
    train = (
        tf.data.Dataset.from_tensor_slices((train_texts, train_labels))
        .shuffle(len(train_texts), seed=args.seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = tf.data.Dataset.from_tensor_slices(valid).batch(args.batch_size)
    evaluation = tf.data.Dataset.from_tensor_slices((eval_texts, eval_labels)).batch(args.batch_size)
    loaded = time.perf_counter()

    model = build_model(args.hub, args.hidden_units, args.learning_rate)
    model.fit(train, validation_data=validation, epochs=args.epochs, verbose=2)
    fitted = time.perf_counter()
    loss, accuracy = model.evaluate(evaluation, verbose=0)

    result = {
        'train_examples': len(train_texts),
        'eval_examples': len(eval_texts),
        'eval_accuracy': float(accuracy),
        'eval_loss': float(loss),
        'load_seconds': loaded - started,
        'fit_seconds': fitted - loaded,
        'parameters': int(model.count_params()),
    }
    text = json.dumps(result, indent=2)
    if args.output:
        with open(args.output, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
    else:
        print(text)


if __name__ == '__main__':
    main()
