"""The linear n-gram model: its features are the module's, its fit follows
NBSVM, and folding the stack into the Keras model gives the stack's logits."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import sparse

from imdb_tfx.modules import linear_score
from imdb_tfx.modules import model as model_lib
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.modules.text_embedding import build_text_embedding

WORDS = ['great', 'awful', 'movie', 'plot', '.', 'not']
TEXTS = ['great movie .', 'awful plot .', 'not great .', 'great great plot', 'awful movie', 'not awful']


@pytest.fixture(scope='module')
def linear_module(tmp_path_factory):
    vectors = np.random.default_rng(0).normal(0, 0.1, (len(WORDS), 4)).astype(np.float32)
    output = str(tmp_path_factory.mktemp('linear') / 'module')
    build_text_embedding(WORDS, vectors, output, bigram_buckets=8, combiner='mean', linear_buckets=256)
    return output


def as_features(matrix) -> linear_score.Features:
    """A 0/1 matrix as Features (its CSR structure)."""
    matrix = sparse.csr_matrix(matrix)
    matrix.sort_indices()
    return linear_score.Features(matrix.indices.astype(np.int32), matrix.indptr.astype(np.int64), matrix.shape[1])


def test_the_features_are_the_modules_distinct_features_in_order(linear_module):
    module = tf.saved_model.load(linear_module)
    features = linear_score.features_of(module, [np.array([t.encode() for t in TEXTS])])
    assert features.texts == len(TEXTS) and features.columns == len(WORDS) + 1 + 256
    assert features.ids.dtype == np.int32
    # 'great great plot': great, plot, 2 pairs, 1 triple; each once, in increasing order.
    great_great_plot = features.rows(3, 4).ids
    assert len(great_great_plot) == 5 and np.all(np.diff(great_great_plot) > 0)
    assert WORDS.index('great') in great_great_plot and WORDS.index('awful') not in great_great_plot


def test_fit_weighs_each_feature_by_its_naive_bayes_ratio():
    # Feature 0 only in positives, 1 only in negatives, 2 in both.
    features = as_features(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]]))
    labels = np.array([1, 1, 0, 0])
    fitted = linear_score.fit(features, labels)
    assert fitted.weights[0] > 0 > fitted.weights[1]
    assert abs(fitted.weights[2]) < 1e-9  # as often in both: a ratio of zero
    assert np.all((fitted.scores(features) > 0) == (labels == 1))
    with pytest.raises(ValueError, match='positive and negative'):
        linear_score.fit(features, np.ones(4))


def test_the_fit_is_nbsvm_as_written_out_in_full(linear_module, monkeypatch):
    """The weights of the textbook form (row subsets summed, the whole matrix
    scaled), to the solver's tolerance: the same problem, given to it in
    another memory layout, and passed over in batches of texts."""
    monkeypatch.setattr(linear_score, '_BATCH_TEXTS', 7)
    rng = np.random.default_rng(1)
    matrix = sparse.random(300, 50, density=0.2, random_state=2, format='csr', dtype=np.float64)
    matrix.data[:] = 1
    labels = (rng.random(300) < 0.5).astype(np.int64)
    positive = np.asarray(matrix[labels == 1].sum(axis=0)).ravel() + linear_score.SMOOTHING
    negative = np.asarray(matrix[labels == 0].sum(axis=0)).ravel() + linear_score.SMOOTHING
    ratio = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    textbook = linear_score.LogisticRegression(C=linear_score.INVERSE_REGULARIZATION, max_iter=3000)
    textbook.fit(matrix.multiply(ratio).tocsr(), labels == 1)
    features = as_features(matrix)
    np.testing.assert_array_equal(features.counts(labels == 1) + linear_score.SMOOTHING, positive)
    fitted = linear_score.fit(features, labels)
    np.testing.assert_allclose(fitted.weights, textbook.coef_[0] * ratio, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(fitted.scores(features), matrix @ fitted.weights + fitted.intercept)


def test_the_features_are_the_ones_a_row_and_column_list_gives(linear_module):
    module = tf.saved_model.load(linear_module)
    texts = np.array([t.encode() for t in TEXTS * 700])
    found = module.feature_ids(tf.constant(texts))
    listed = sparse.csr_matrix(
        (np.ones(len(found['ids'])), (found['rows'].numpy(), found['ids'].numpy())), shape=(len(texts), 263)
    )
    built = linear_score.features_of(module, np.array_split(texts, 5))
    assert (built.weighted(np.ones(len(built.ids))) != listed).nnz == 0


def test_stacked_features_are_the_parts_in_turn_and_rows_share_the_ids(linear_module):
    module = tf.saved_model.load(linear_module)
    texts = np.array([t.encode() for t in TEXTS * 3])
    whole = linear_score.features_of(module, [texts])
    stacked = linear_score.stack_features(
        [linear_score.features_of(module, [texts[:5]]), linear_score.features_of(module, [texts[5:]])]
    )
    np.testing.assert_array_equal(stacked.ids, whole.ids)
    np.testing.assert_array_equal(stacked.starts, whole.starts)
    part = whole.rows(5, 9)
    assert part.texts == 4 and np.shares_memory(part.ids, whole.ids)
    # The fit's scaled matrix holds new values only: its ids are the features'.
    assert np.shares_memory(whole.weighted(np.ones(len(whole.ids))).indices, whole.ids)


def test_the_stack_is_fitted_on_held_out_logits():
    rng = np.random.default_rng(0)
    network, linear = rng.normal(0, 2, 4000), rng.normal(0, 2, 4000)
    labels = rng.random(4000) < 1 / (1 + np.exp(-(0.5 * network + 1.5 * linear - 0.3)))
    stack, summary = linear_score.fit_stack(network, linear, labels)
    assert stack.network_weight == pytest.approx(0.5, abs=0.1)
    assert stack.linear_weight == pytest.approx(1.5, abs=0.15)
    assert stack.bias == pytest.approx(-0.3, abs=0.15)
    assert summary['examples'] == 4000 and summary['stacked_accuracy'] >= summary['network_accuracy']
    assert summary['nll_after'] < summary['nll_before']


def test_installing_folds_the_stack_into_the_model(linear_module):
    model = model_lib.build_model(Hyperparameters(hub_handle=linear_module, hidden_units=4))
    texts = np.array([t.encode() for t in TEXTS])
    network = model(tf.constant(texts)).numpy()[:, 0]  # the linear score is still zero
    module = model.get_layer(model_lib.EMBEDDING_LAYER).resolved_object
    features = linear_score.features_of(module, [texts])
    linear = linear_score.fit(features, np.array([1, 0, 0, 1, 0, 1]))
    stack = linear_score.Stack(network_weight=0.7, linear_weight=1.3, bias=-0.2)
    linear_score.install(model, module, linear, stack, model_lib.HEAD_LAYERS[-1])
    np.testing.assert_allclose(
        model(tf.constant(texts)).numpy()[:, 0], stack.logits(network, linear.scores(features)), rtol=1e-5, atol=1e-5
    )
