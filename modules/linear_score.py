"""The model's linear half: NBSVM-style logistic regression over each text's
distinct n-gram features (Wang & Manning, "Baselines and Bigrams"), stacked
with the network.

The text module's features (its words and OOV buckets, and its own buckets
of word pairs and triples) are counted once per text; each is scaled by its
naive-Bayes log-count ratio r (how much more often positive texts have it
than negative ones, add-one smoothed, from the labels of the texts it is
fitted on), and a logistic regression is fitted on them. Its score is the
module's last output column (the sum of per-feature weights coefficient * r
over the text's features), which the model adds to the network's logit
(modules/model.py). The network and the linear model are fitted apart (the
linear model would fit the network's training texts almost perfectly, and
the network would learn nothing beside it), then combined by a logistic
regression on the valid split, which weighs the two and calibrates their sum.

The two make different errors, which is why they are stacked
(docs/text-module.md compares the network, the linear model and the stack).
"""

import dataclasses
from typing import Iterable, Iterator, Sequence, Tuple

import numpy as np
import tensorflow as tf
from scipy import sparse, special
from sklearn.linear_model import LogisticRegression

from imdb_tfx.core import memory
from imdb_tfx.modules import calibration

# Naive Bayes' add-one smoothing, and the inverse L2 strength of the
# regression: NBSVM's defaults, as a stronger L2 penalty scores no better.
SMOOTHING = 1.0
INVERSE_REGULARIZATION = 1.0


# Texts per step where a pass over the features needs a per-text array.
_BATCH_TEXTS = 16_384


@dataclasses.dataclass(frozen=True)
class Features:
    """Which of the module's features each text has: a binary [texts, table
    rows] matrix kept as its CSR structure alone. Every value would be 1, so
    none is stored: 4 bytes a (text, feature), the Trainer's largest object,
    which grows with the data. `fit` gives it its only values."""

    ids: np.ndarray  # int32: each text's feature ids in increasing order, text after text
    starts: np.ndarray  # int64, texts + 1: where each text's ids start in `ids`
    columns: int

    @property
    def texts(self) -> int:
        return len(self.starts) - 1

    def rows(self, start: int, stop: int) -> 'Features':
        """Texts START to STOP, sharing these features' ids (no copy)."""
        starts = self.starts[start : stop + 1]
        return Features(self.ids[starts[0] : starts[-1]], starts - starts[0], self.columns)

    def batches(self) -> Iterator[Tuple[int, 'Features']]:
        """(index of the first text, the texts from it) in turn."""
        for start in range(0, self.texts, _BATCH_TEXTS):
            yield start, self.rows(start, min(start + _BATCH_TEXTS, self.texts))

    def weighted(self, values: np.ndarray) -> sparse.csr_matrix:
        """The matrix with VALUES (one per stored id) in place of its ones,
        sharing the ids."""
        return sparse.csr_matrix((values, self.ids, self.starts), shape=(self.texts, self.columns), copy=False)

    def counts(self, chosen: np.ndarray) -> np.ndarray:
        """Per feature, how many of the CHOSEN texts (a mask) have it."""
        counts = np.zeros(self.columns)
        for start, part in self.batches():
            mask = np.repeat(chosen[start : start + part.texts], np.diff(part.starts))
            counts += np.bincount(part.ids[mask], minlength=self.columns)
        return counts


def stack_features(parts: Sequence[Features]) -> Features:
    """PARTS' texts in turn, in one copy of their ids."""
    offsets = np.cumsum([0] + [len(p.ids) for p in parts[:-1]])
    starts = [parts[0].starts[:1]] + [p.starts[1:] + offset for p, offset in zip(parts, offsets)]
    return Features(np.concatenate([p.ids for p in parts]), np.concatenate(starts), parts[0].columns)


def features_of(module, text_batches: Iterable) -> Features:
    """The texts' features, from the module's own `feature_ids` (so they are
    exactly what it serves). The texts come in batches (arrays or string
    tensors) and are never held."""
    columns = int(module.linear_weights.shape[0])
    # A (row, id) pair as one int64, row in the high bits: one sort puts the
    # ids in row order and each row's in increasing order.
    id_bits = max(columns - 1, 1).bit_length()
    counts, ids = [], []
    for batch in text_batches:
        found = module.feature_ids(tf.convert_to_tensor(batch))
        rows = found['rows'].numpy()
        keys = (rows.astype(np.int64) << id_bits) | found['ids'].numpy().astype(np.int64)
        keys.sort()
        counts.append(np.bincount(rows, minlength=len(batch)))
        ids.append((keys & ((1 << id_bits) - 1)).astype(np.int32))
    starts = np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])]).astype(np.int64)
    return Features(np.concatenate(ids) if ids else np.zeros(0, np.int32), starts, columns)


@dataclasses.dataclass(frozen=True)
class LinearModel:
    weights: np.ndarray  # per feature: coefficient * log-count ratio
    intercept: float

    def scores(self, features: Features) -> np.ndarray:
        sums = [part.weighted(np.ones(len(part.ids))) @ self.weights for _, part in features.batches()]
        return np.concatenate([np.zeros(0), *sums]) + self.intercept


def fit(features: Features, labels: np.ndarray) -> LinearModel:
    labels = np.asarray(labels) > 0.5
    if labels.all() or not labels.any():
        raise ValueError('the linear score needs positive and negative labelled texts')
    positive = features.counts(labels) + SMOOTHING
    negative = features.counts(~labels) + SMOOTHING
    ratio = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    # The scaled matrix's values are the fit's one copy of the data; its ids are the features'.
    scaled = features.weighted(ratio[features.ids])
    regression = LogisticRegression(C=INVERSE_REGULARIZATION, max_iter=3000)
    regression.fit(scaled, labels)
    fitted = LinearModel(regression.coef_[0] * ratio, float(regression.intercept_[0]))
    del scaled, regression
    memory.return_freed_memory("the linear model's scaled features and solver state")
    return fitted


@dataclasses.dataclass(frozen=True)
class Stack:
    """logit = network_weight * network logit + linear_weight * linear score + bias."""

    network_weight: float
    linear_weight: float
    bias: float

    def logits(self, network: np.ndarray, linear: np.ndarray) -> np.ndarray:
        return self.network_weight * np.asarray(network) + self.linear_weight * np.asarray(linear) + self.bias


def fit_stack(network: np.ndarray, linear: np.ndarray, labels: np.ndarray) -> Tuple[Stack, dict]:
    """The stack's weights by (practically unregularized) logistic regression
    on held-out texts, and a summary of what each part and the stack score there."""
    labels = np.asarray(labels, np.float64)
    regression = LogisticRegression(C=1e4, max_iter=1000).fit(np.c_[network, linear], labels > 0.5)
    stack = Stack(float(regression.coef_[0][0]), float(regression.coef_[0][1]), float(regression.intercept_[0]))
    stacked = stack.logits(network, linear)

    def accuracy(logits):
        return float(np.mean((logits > 0) == (labels > 0.5)))

    summary = {
        'method': 'stack',
        **dataclasses.asdict(stack),
        'examples': int(len(labels)),
        'network_accuracy': accuracy(network),
        'linear_accuracy': accuracy(linear),
        'stacked_accuracy': accuracy(stacked),
        # Before: the network alone, as it would serve uncalibrated.
        'nll_before': calibration.negative_log_likelihood(network, labels),
        'nll_after': calibration.negative_log_likelihood(stacked, labels),
        'ece_before': calibration.expected_calibration_error(labels, special.expit(network)),
        'ece_after': calibration.expected_calibration_error(labels, special.expit(stacked)),
    }
    return stack, summary


def install(model: tf.keras.Model, module, linear: LinearModel, stack: Stack, logits_layer: str) -> None:
    """Folds the stack into MODEL, whose logit is its network's plus the
    module's linear score: the linear weights into the module, the network's
    weight and the bias into the last Dense layer."""
    module.linear_weights.assign((stack.linear_weight * linear.weights).astype(np.float32))
    kernel, bias = model.get_layer(logits_layer).get_weights()
    model.get_layer(logits_layer).set_weights(
        [
            kernel * stack.network_weight,
            bias * stack.network_weight + stack.bias + stack.linear_weight * linear.intercept,
        ]
    )
