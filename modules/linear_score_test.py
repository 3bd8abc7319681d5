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


def test_the_feature_matrix_is_binary_and_matches_the_modules_features(linear_module):
    module = tf.saved_model.load(linear_module)
    features = linear_score.feature_matrix(module, [np.array([t.encode() for t in TEXTS])])
    assert features.shape == (len(TEXTS), len(WORDS) + 1 + 256)
    assert set(features.data) == {1.0}
    # 'great great plot': great, plot, 2 pairs, 1 triple.
    assert features[3].nnz == 5
    assert features[3, WORDS.index('great')] == 1 and features[3, WORDS.index('awful')] == 0


def test_fit_weighs_each_feature_by_its_naive_bayes_ratio():
    # Feature 0 only in positives, 1 only in negatives, 2 in both.
    features = sparse.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]], np.float64))
    labels = np.array([1, 1, 0, 0])
    fitted = linear_score.fit(features, labels)
    assert fitted.weights[0] > 0 > fitted.weights[1]
    assert abs(fitted.weights[2]) < 1e-9  # as often in both: a ratio of zero
    assert np.all((fitted.scores(features) > 0) == (labels == 1))
    with pytest.raises(ValueError, match='positive and negative'):
        linear_score.fit(features, np.ones(4))


def test_the_fit_is_nbsvm_as_written_out_in_full(linear_module):
    """The weights of the textbook form (row subsets summed, the whole matrix scaled), to
    the solver's tolerance: the same problem, given to it in another memory layout."""
    rng = np.random.default_rng(1)
    features = sparse.random(300, 50, density=0.2, random_state=2, format='csr', dtype=np.float32)
    features.data[:] = 1
    labels = (rng.random(300) < 0.5).astype(np.int64)
    positive = np.asarray(features[labels == 1].sum(axis=0)).ravel() + linear_score.SMOOTHING
    negative = np.asarray(features[labels == 0].sum(axis=0)).ravel() + linear_score.SMOOTHING
    ratio = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    textbook = linear_score.LogisticRegression(C=linear_score.INVERSE_REGULARIZATION, max_iter=3000)
    textbook.fit(features.astype(np.float64).multiply(ratio).tocsr(), labels == 1)
    fitted = linear_score.fit(features, labels)
    np.testing.assert_allclose(fitted.weights, textbook.coef_[0] * ratio, rtol=1e-3, atol=1e-6)
    # And the module's matrix is the one a row-and-column list gives.
    module = tf.saved_model.load(linear_module)
    texts = np.array([t.encode() for t in TEXTS * 700])
    found = module.feature_ids(tf.constant(texts))
    listed = sparse.csr_matrix(
        (np.ones(len(found['ids'])), (found['rows'].numpy(), found['ids'].numpy())), shape=(len(texts), 263)
    )
    built = linear_score.feature_matrix(module, np.array_split(texts, 5))
    assert built.indices.dtype == np.int32 and (built != listed).nnz == 0


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
    features = linear_score.feature_matrix(module, [texts])
    linear = linear_score.fit(features, np.array([1, 0, 0, 1, 0, 1]))
    stack = linear_score.Stack(network_weight=0.7, linear_weight=1.3, bias=-0.2)
    linear_score.install(model, module, linear, stack, model_lib.HEAD_LAYERS[-1])
    np.testing.assert_allclose(
        model(tf.constant(texts)).numpy()[:, 0], stack.logits(network, linear.scores(features)), rtol=1e-5, atol=1e-5
    )
