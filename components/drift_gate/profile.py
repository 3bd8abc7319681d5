"""What the drift gate compares between two spans of labelled reviews: label
balance, star ratings, review length, the out-of-vocabulary rate under the
serving model's vocabulary, and the distribution of the most frequent tokens.

Raw review strings cannot be compared as a distribution, so each span is
reduced to these measures, tokenized exactly as the model does
(modules/text_embedding.tokenize)."""

import collections
import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from imdb_tfx.core import names
from imdb_tfx.modules import text_embedding

# Distances and their thresholds, by name (pipeline/configs.py DRIFT_THRESHOLDS).
LABEL_BALANCE = 'label_balance'  # |share of positive reviews, newest - reference|
RATING = 'rating'  # L-infinity distance of the star-rating distributions
REVIEW_LENGTH = 'review_length'  # |median tokens per review, newest / reference - 1|
OOV_RATE = 'oov_rate'  # |out-of-vocabulary token rate, newest - reference|
TOP_TOKENS = 'top_tokens'  # Jensen-Shannon divergence (bits) of the top tokens' distributions
MEASURES = (LABEL_BALANCE, RATING, REVIEW_LENGTH, OOV_RATE, TOP_TOKENS)
TOP_TOKENS_COUNT = 500  # each span's most frequent tokens, pooled; the rest is one bucket
_BATCH = 512


@dataclasses.dataclass
class Profile:
    """A span's labelled reviews, summarised."""

    reviews: int
    positive_share: float
    ratings: Dict[int, float]  # share of each star rating; empty without ratings
    median_tokens: float
    token_counts: collections.Counter


@dataclasses.dataclass(frozen=True)
class Measure:
    name: str
    newest: Optional[float]
    reference: Optional[float]
    distance: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.distance > self.threshold

    def __str__(self) -> str:
        values = '' if self.newest is None else f' ({_g(self.reference)} -> {_g(self.newest)})'
        verdict = 'over' if self.drifted else 'within'
        return f'{self.name}{values}: distance {self.distance:.4f}, {verdict} the threshold {self.threshold:g}'


def _g(value: float) -> str:
    return f'{value:.4g}'


def profile(file_patterns: Sequence[str]) -> Profile:
    """Reads gzip'd TFRecords of tf.Example (text, label, optional rating)."""
    files = [path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]
    spec = {
        names.TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string),
        names.LABEL_FEATURE: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        names.RATING_FEATURE: tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }
    dataset = (
        tf.data.TFRecordDataset(files, compression_type='GZIP')
        .batch(_BATCH)
        .map(lambda serialized: tf.io.parse_example(serialized, spec))
    )
    labels, ratings, lengths, tokens = [], [], [], collections.Counter()
    for batch in dataset:
        ragged = text_embedding.tokenize(batch[names.TEXT_FEATURE])
        lengths.append(ragged.row_lengths().numpy())
        words, counts = np.unique(ragged.flat_values.numpy(), return_counts=True)
        tokens.update(dict(zip(words.tolist(), counts.tolist())))
        labels.append(batch[names.LABEL_FEATURE].numpy())
        ratings.append(batch[names.RATING_FEATURE].numpy())
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    ratings = np.concatenate(ratings) if ratings else np.zeros(0, np.int64)
    rated = ratings[ratings > 0]
    rating_values, rating_counts = np.unique(rated, return_counts=True)
    return Profile(
        reviews=int(labels.size),
        positive_share=float(np.mean(labels == 1)) if labels.size else 0.0,
        ratings={int(r): float(c / rated.size) for r, c in zip(rating_values, rating_counts)},
        median_tokens=float(np.median(np.concatenate(lengths))) if lengths else 0.0,
        token_counts=tokens,
    )


def oov_rate(counts: collections.Counter, vocabulary: set) -> float:
    total = sum(counts.values())
    return sum(c for word, c in counts.items() if word not in vocabulary) / total if total else 0.0


def top_tokens_divergence(a: collections.Counter, b: collections.Counter, top: int = TOP_TOKENS_COUNT) -> float:
    """Jensen-Shannon divergence (base 2, 0..1) of the two spans' token
    shares over each span's `top` most frequent tokens, the rest pooled."""
    kept = {w for w, _ in a.most_common(top)} | {w for w, _ in b.most_common(top)}

    def shares(counts):
        total = sum(counts.values()) or 1
        vector = [counts.get(w, 0) / total for w in sorted(kept)]
        return np.array(vector + [max(0.0, 1.0 - sum(vector))])

    p, q = shares(a), shares(b)
    m = (p + q) / 2

    def kl(x):
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return (kl(p) + kl(q)) / 2


def compare(
    newest: Profile, reference: Profile, thresholds: Dict[str, float], vocabulary: Optional[set]
) -> List[Measure]:
    """Every measure for which both spans have data, with its threshold."""
    measures = [
        Measure(
            LABEL_BALANCE,
            newest.positive_share,
            reference.positive_share,
            abs(newest.positive_share - reference.positive_share),
            thresholds[LABEL_BALANCE],
        )
    ]
    if newest.ratings and reference.ratings:
        stars = set(newest.ratings) | set(reference.ratings)
        distance = max(abs(newest.ratings.get(s, 0.0) - reference.ratings.get(s, 0.0)) for s in stars)
        measures.append(Measure(RATING, None, None, distance, thresholds[RATING]))
    if reference.median_tokens:
        measures.append(
            Measure(
                REVIEW_LENGTH,
                newest.median_tokens,
                reference.median_tokens,
                abs(newest.median_tokens / reference.median_tokens - 1),
                thresholds[REVIEW_LENGTH],
            )
        )
    if vocabulary:
        new_rate, ref_rate = oov_rate(newest.token_counts, vocabulary), oov_rate(reference.token_counts, vocabulary)
        measures.append(Measure(OOV_RATE, new_rate, ref_rate, abs(new_rate - ref_rate), thresholds[OOV_RATE]))
    measures.append(
        Measure(
            TOP_TOKENS,
            None,
            None,
            top_tokens_divergence(newest.token_counts, reference.token_counts),
            thresholds[TOP_TOKENS],
        )
    )
    return measures


def read_vocabulary(path: str) -> set:
    """The module's vocabulary file, as the UTF-8 bytes its tokens are."""
    with tf.io.gfile.GFile(path, 'rb') as f:
        return set(f.read().split(b'\n')) - {b''}
