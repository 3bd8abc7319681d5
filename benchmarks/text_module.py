"""Part 6: the text module against its reference, side by side.

Today's module (modules/text_embedding.py) and the reference one, the
straightforward way to the same features (benchmarks/reference_text_module.py),
are built from the same words, vectors and options: the default recipe's
module (GloVe 6B 50d restricted to the words of the prepared reviews, as
EmbeddingBuilder does, with its bigram buckets, combiner and table
multiplier). Each is saved and loaded back, as serving loads it, and called
in a graph on the same real reviews; the two take turns, round after round,
so that a busy moment of the machine falls on both. The head costs nothing
(part 4), so the module's rate is the model's."""

import glob
import os
import statistics
import tempfile
from typing import Dict, List, Sequence

import tensorflow as tf

from benchmarks import report, serving
from benchmarks.reference_text_module import ReferenceTextEmbedding
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.modules import text_embedding
from imdb_tfx.pipeline import recipes

ROUNDS = 3
MODULES = ('reference', 'today')


def prepared_files(data: str) -> List[str]:
    """Every review of prepare-data's output (labelled and unlabeled)."""
    return sorted(glob.glob(os.path.join(data, '*', '*.tfrecord.gz')))


def build_both(data: str, glove_dir: str, work_dir: str) -> Dict[str, str]:
    """{'reference': dir, 'today': dir}: the default recipe's module, both ways."""
    spec = recipes.get(recipes.DEFAULT_RECIPE).embedding
    words, vectors = word_vectors.load_glove_6b_50d(glove_dir)
    words, vectors = word_vectors.restrict_vocabulary(words, vectors, text_embedding.corpus_words(prepared_files(data)))
    today = os.path.join(work_dir, 'today')
    summary = text_embedding.build_text_embedding(words, vectors, today, **spec.module_options)
    # The reference gets the vocabulary and vectors the builder kept.
    vocab_file = os.path.join(today, 'assets', text_embedding.VOCAB_FILE_NAME)
    kept = tf.saved_model.load(today).embeddings.numpy()[: summary['vocab_size']] * spec.table_lr_multiplier
    # The reference has no linear score: today's module pays for the default recipe's.
    options = {k: v for k, v in spec.module_options.items() if k != 'linear_buckets'}
    reference = ReferenceTextEmbedding(vocab_file, kept, summary['oov_buckets'], **options)
    tf.saved_model.save(reference, os.path.join(work_dir, 'reference'))
    return {'reference': os.path.join(work_dir, 'reference'), 'today': today}


def collect(
    data: str,
    glove_dir: str,
    min_seconds: float = 5.0,
    min_calls: int = 20,
    batches: Sequence[int] = report.TEXT_MODULE_BATCHES,
    rounds: int = ROUNDS,
) -> dict:
    texts = serving.read_texts(prepared_files(data)[:1], 2000)
    with tempfile.TemporaryDirectory() as work_dir:
        paths = build_both(data, glove_dir, work_dir)
        loaded = {name: tf.saved_model.load(path) for name, path in paths.items()}  # kept: they own the tables
        embed = {
            name: tf.function(module.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
            for name, module in loaded.items()
        }
        rates: Dict[str, Dict[int, List[float]]] = {name: {b: [] for b in batches} for name in MODULES}
        for _ in range(rounds):
            for batch in batches:
                inputs = [tf.constant(b) for b in serving.batches_of(texts, batch)]
                for name in MODULES:
                    latencies = serving.time_calls(
                        lambda i: embed[name](inputs[i % len(inputs)]).numpy(), min_seconds / rounds, min_calls
                    )
                    rates[name][batch].append(batch * len(latencies) / sum(latencies))
    rows = []
    for batch in batches:
        medians = {name: statistics.median(rates[name][batch]) for name in MODULES}
        rows.append(
            {
                'batch': batch,
                'reference_reviews_per_second': medians['reference'],
                'today_reviews_per_second': medians['today'],
                'speedup': medians['today'] / medians['reference'],
                'rounds': {name: rates[name][batch] for name in MODULES},
            }
        )
    return {'recipe': recipes.DEFAULT_RECIPE, 'reviews': len(texts), 'rows': rows}


def table(result: dict) -> str:
    rows = [
        [
            f'{r["batch"]:,}',
            f'{r["reference_reviews_per_second"]:,.0f}',
            f'{r["today_reviews_per_second"]:,.0f}',
            f'{r["speedup"]:.2f}x',
            ', '.join(f'{a:,.0f} / {b:,.0f}' for a, b in zip(r['rounds']['reference'], r['rounds']['today'])),
        ]
        for r in result['rows']
    ]
    return (
        report.markdown_table(
            ['batch', 'reference reviews/s', "today's reviews/s", 'speedup', 'per round (reference / today)'],
            rows,
        )
        + f"\n\nThe {result['recipe']} recipe's module, both built from the same vocabulary and vectors "
        f'({result["reviews"]:,} real reviews, in a graph, median of the rounds).'
    )
