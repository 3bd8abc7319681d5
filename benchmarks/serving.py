"""Part 4: how fast the pushed model serves, in-process (tf.saved_model.load,
no model server): throughput and latency through both signatures at each
batch size, on real eval reviews.

Inputs are built before the clock starts (a server receives them built);
each call's outputs are fetched to NumPy inside the clock. Latency is per
call (a whole batch); throughput is reviews served over the summed call times.
The embedding module alone on the largest batch shows how much of serving_text
is text processing and embedding lookup rather than the Keras head."""

import os
import statistics
import time
from typing import Callable, List, Sequence

import numpy as np
import tensorflow as tf

from benchmarks import report
from imdb_tfx.core import names

BATCHES = (1, 64, 1000)
WARMUP_CALLS = 3
DISTINCT_BATCHES = 8


def eval_texts(examples_uri: str, limit: int = 2000) -> List[bytes]:
    """Real reviews the model never trained on: the eval split's first `limit`."""
    return read_texts(sorted(tf.io.gfile.glob(os.path.join(examples_uri, 'Split-eval', '*'))), limit)


def read_texts(files: Sequence[str], limit: int) -> List[bytes]:
    """The `text` of the first `limit` tf.Examples of gzip'd TFRecord files."""
    records = tf.data.TFRecordDataset(list(files), compression_type='GZIP').take(limit)
    return [tf.train.Example.FromString(r.numpy()).features.feature['text'].bytes_list.value[0] for r in records]


def _examples(texts: Sequence[bytes]) -> tf.Tensor:
    return tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(feature={'text': tf.train.Feature(bytes_list=tf.train.BytesList(value=[t]))})
            ).SerializeToString()
            for t in texts
        ]
    )


def batches_of(texts: List[bytes], batch: int) -> List[List[bytes]]:
    """DISTINCT_BATCHES batches taken round the review pool."""
    return [[texts[(b * batch + i) % len(texts)] for i in range(batch)] for b in range(DISTINCT_BATCHES)]


def time_calls(call: Callable[[int], object], min_seconds: float, min_calls: int) -> List[float]:
    """Seconds per call, after warm-up, until both minimums are reached."""
    for i in range(WARMUP_CALLS):
        call(i)
    latencies: List[float] = []
    while sum(latencies) < min_seconds or len(latencies) < min_calls:
        started = time.perf_counter()
        call(len(latencies))
        latencies.append(time.perf_counter() - started)
    return latencies


def _row(name: str, batch: int, latencies: List[float]) -> dict:
    return {
        'signature': name,
        'batch': batch,
        'calls': len(latencies),
        'reviews_per_second': batch * len(latencies) / sum(latencies),
        'p50_ms': 1000 * statistics.median(latencies),
        'p99_ms': 1000 * float(np.percentile(latencies, 99)),
    }


def collect(
    model_dir: str,
    texts: List[bytes],
    hub_handle: str,
    min_seconds: float = 5.0,
    min_calls: int = 20,
    batches: Sequence[int] = BATCHES,
) -> dict:
    loaded = tf.saved_model.load(model_dir)
    signatures = {
        names.TEXT_SIGNATURE: ('text', lambda b: tf.constant(b)),
        names.EXAMPLES_SIGNATURE: ('examples', _examples),
    }
    rows = []
    for name, (input_name, build) in signatures.items():
        function = loaded.signatures[name]
        for batch in batches:
            inputs = [build(b) for b in batches_of(texts, batch)]
            latencies = time_calls(
                lambda i: function(**{input_name: inputs[i % len(inputs)]})[names.OUTPUT_KEY].numpy(),
                min_seconds,
                min_calls,
            )
            rows.append(_row(name, batch, latencies))
    # In a graph, like the signatures: a restored module called eagerly is slower.
    module = tf.saved_model.load(hub_handle)
    embed = tf.function(module.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
    inputs = [tf.constant(b) for b in batches_of(texts, max(batches))]
    latencies = time_calls(lambda i: embed(inputs[i % len(inputs)]).numpy(), min_seconds, min_calls)
    return {
        'model': model_dir,
        'rows': rows,
        'embedding_alone': _row('embedding module alone', max(batches), latencies),
    }


def reviews_per_second(result: dict, signature: str, batch: int) -> float:
    return next(r['reviews_per_second'] for r in result['rows'] if r['signature'] == signature and r['batch'] == batch)


def table(result: dict) -> str:
    rows = [
        [
            r['signature'],
            f'{r["batch"]:,}',
            f'{r["reviews_per_second"]:,.0f}',
            f'{r["p50_ms"]:.2f}',
            f'{r["p99_ms"]:.2f}',
            r['calls'],
        ]
        for r in result['rows'] + [result['embedding_alone']]
    ]
    return (
        report.markdown_table(['signature', 'batch', 'reviews/s', 'p50 ms', 'p99 ms', 'calls'], rows)
        + f'\n\nModel: `{result["model"]}`. Latency is per call (one batch).'
    )
