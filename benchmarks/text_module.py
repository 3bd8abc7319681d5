"""Part 6: the text module against its reference and its previous code, side by side.

Today's module (modules/text_embedding.py), the reference one, the
straightforward way to the same features (benchmarks/reference_text_module.py),
and the previous one (modules/text_embedding.py as it was at PREVIOUS_COMMIT,
read from git: the code the default model served with before) are built
from the same words, vectors and options: the default recipe's
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

from benchmarks import previous_code, report, serving
from benchmarks.reference_text_module import ReferenceTextEmbedding
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.modules import text_embedding
from imdb_tfx.pipeline import recipes

ROUNDS = 3
MODULES = ('reference', 'previous', 'today')
# The text module's code of the default model that today's must serve at least as fast as.
PREVIOUS_COMMIT = 'd8e513f'


def prepared_files(data: str) -> List[str]:
    """Every review of prepare-data's output (labelled and unlabeled)."""
    return sorted(glob.glob(os.path.join(data, '*', '*.tfrecord.gz')))


def default_words(data: str, glove_dir: str):
    """GloVe 6B 50d's (words, vectors) restricted to the words of DATA's
    reviews, as EmbeddingBuilder does for the default recipe."""
    words, vectors = word_vectors.load_glove_6b_50d(glove_dir)
    return word_vectors.restrict_vocabulary(words, vectors, text_embedding.corpus_words(prepared_files(data)))


def build_all(data: str, glove_dir: str, work_dir: str) -> Dict[str, str]:
    """{name: dir} for MODULES: the default recipe's module, each way."""
    spec = recipes.get(recipes.DEFAULT_RECIPE).embedding
    words, vectors = default_words(data, glove_dir)
    today = os.path.join(work_dir, 'today')
    summary = text_embedding.build_text_embedding(words, vectors, today, **spec.module_options)
    previous = os.path.join(work_dir, 'previous')
    previous_text_embedding = previous_code.load(PREVIOUS_COMMIT, 'modules/text_embedding.py', work_dir)
    previous_text_embedding.build_text_embedding(words, vectors, previous, **spec.module_options)
    # The reference gets the vocabulary and vectors the builder kept.
    vocab_file = os.path.join(today, 'assets', text_embedding.VOCAB_FILE_NAME)
    kept = tf.saved_model.load(today).embeddings.numpy()[: summary['vocab_size']] * spec.table_lr_multiplier
    # The reference has no linear score: today's module pays for the default recipe's.
    options = {k: v for k, v in spec.module_options.items() if k != 'linear_buckets'}
    reference = ReferenceTextEmbedding(vocab_file, kept, summary['oov_buckets'], **options)
    tf.saved_model.save(reference, os.path.join(work_dir, 'reference'))
    return {'reference': os.path.join(work_dir, 'reference'), 'previous': previous, 'today': today}


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
        paths = build_all(data, glove_dir, work_dir)
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
                'previous_reviews_per_second': medians['previous'],
                'today_reviews_per_second': medians['today'],
                'speedup': medians['today'] / medians['reference'],
                'against_previous': medians['today'] / medians['previous'],
                'rounds': {name: rates[name][batch] for name in MODULES},
            }
        )
    return {'recipe': recipes.DEFAULT_RECIPE, 'previous_commit': PREVIOUS_COMMIT, 'reviews': len(texts), 'rows': rows}


def _by_round(rounds: Dict[str, List[float]]) -> List[tuple]:
    """Each round's rates, in MODULES order."""
    return list(zip(*(rounds[name] for name in MODULES)))


def table(result: dict) -> str:
    rows = [
        [
            f'{r["batch"]:,}',
            f'{r["reference_reviews_per_second"]:,.0f}',
            f'{r["previous_reviews_per_second"]:,.0f}',
            f'{r["today_reviews_per_second"]:,.0f}',
            f'{r["speedup"]:.2f}x',
            f'{r["against_previous"]:.2f}x',
            ', '.join(
                ' / '.join(f'{r["rounds"][name][i]:,.0f}' for name in MODULES) for i in range(len(r['rounds']['today']))
            ),
        ]
        for r in result['rows']
    ]
    return (
        report.markdown_table(
            [
                'batch',
                'reference reviews/s',
                'previous reviews/s',
                "today's reviews/s",
                'today / reference',
                'today / previous',
                'per round (reference / previous / today)',
            ],
            rows,
        )
        + f"\n\nThe {result['recipe']} recipe's module, all built from the same vocabulary and vectors "
        f'({result["reviews"]:,} real reviews, in a graph, median of the rounds); previous: the module code '
        f'at commit {result["previous_commit"]}.'
    )
