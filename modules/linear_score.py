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
from typing import Iterable, Tuple

import numpy as np
import tensorflow as tf
from scipy import sparse, special
from sklearn.linear_model import LogisticRegression

from imdb_tfx.modules import calibration

# Naive Bayes' add-one smoothing, and the inverse L2 strength of the
# regression: NBSVM's defaults, as a stronger L2 penalty scores no better.
SMOOTHING = 1.0
INVERSE_REGULARIZATION = 1.0


def feature_matrix(module, text_batches: Iterable) -> sparse.csr_matrix:
    """Binary [texts, table rows]: 1 where a text has the feature, from the
    module's own `feature_ids` (so the features are exactly what it serves).
    The texts come in batches (arrays or string tensors) and are never held:
    the matrix is built batch by batch into CSR arrays of 4-byte ids and
    values, as it is the Trainer's largest object and grows with the data."""
    counts, ids = [], []
    for batch in text_batches:
        found = module.feature_ids(tf.convert_to_tensor(batch))
        rows = found['rows'].numpy()
        order = np.argsort(rows, kind='stable')
        counts.append(np.bincount(rows, minlength=len(batch)))
        ids.append(found['ids'].numpy()[order].astype(np.int32))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])]).astype(np.int64)
    indices = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    del ids
    shape = (len(indptr) - 1, int(module.linear_weights.shape[0]))
    matrix = sparse.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=shape)
    matrix.sum_duplicates()
    return matrix


@dataclasses.dataclass(frozen=True)
class LinearModel:
    weights: np.ndarray  # per feature: coefficient * log-count ratio
    intercept: float

    def scores(self, features: sparse.csr_matrix) -> np.ndarray:
        return features @ self.weights + self.intercept


def fit(features: sparse.csr_matrix, labels: np.ndarray) -> LinearModel:
    labels = np.asarray(labels) > 0.5
    if labels.all() or not labels.any():
        raise ValueError('the linear score needs positive and negative labelled texts')
    # Per-feature counts as products with the labels: no copy of the matrix's rows.
    positive = features.T @ labels.astype(np.float64) + SMOOTHING
    negative = features.T @ (~labels).astype(np.float64) + SMOOTHING
    ratio = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    # The scaled matrix shares the features' ids: only its values are new.
    values = ratio[features.indices]
    values *= features.data
    scaled = sparse.csr_matrix((values, features.indices, features.indptr), shape=features.shape)
    regression = LogisticRegression(C=INVERSE_REGULARIZATION, max_iter=3000)
    regression.fit(scaled, labels)
    return LinearModel(regression.coef_[0] * ratio, float(regression.intercept_[0]))


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
