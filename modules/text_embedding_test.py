"""Tests of the text-embedding module on tiny modules built from a few word vectors."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.text_embedding import build_text_embedding, tokenize

WORDS = ['the', 'great', 'movie', '!', 'loved', 'it', ',', 'really', '.', 'été']
DIM = 4


@pytest.fixture(scope='module')
def glove():
    """Tiny word vectors, and each word's vector."""
    vectors = np.round(np.random.default_rng(0).uniform(-0.5, 0.5, (len(WORDS), DIM)), 3).astype(np.float32)
    return (WORDS, vectors), dict(zip(WORDS, vectors))


@pytest.fixture(scope='module')
def module_dir(glove, tmp_path_factory):
    words, vectors = glove[0]
    output = str(tmp_path_factory.mktemp('modules') / 'tiny')
    summary = build_text_embedding(words, vectors, output, oov_buckets=1)
    assert summary == {
        'output_dir': output,
        'vocab_size': len(WORDS),
        'dim': DIM,
        'oov_buckets': 1,
        'bigram_buckets': 0,
        'combiner': 'sqrtn',
        'table_lr_multiplier': 1.0,
        'linear_buckets': 0,
    }
    return output


def embed(module, *texts):
    return module(tf.constant(list(texts), tf.string)).numpy()


def tokens(text):
    return [t.decode('utf-8') for t in tokenize(tf.constant([text])).to_list()[0]]


def test_tokenize_lowercases_splits_punctuation_and_drops_line_breaks():
    assert tokens('Great MOVIE!<br /><br />Loved it, really.') == [
        'great',
        'movie',
        '!',
        'loved',
        'it',
        ',',
        'really',
        '.',
    ]
    assert tokens('one<br/>two<BR>three  \t(four)') == ['one', 'two', 'three', '(', 'four', ')']
    assert tokens('bad\x96worse') == ['bad', '\x96', 'worse']  # Windows-1252 dash read as Latin-1


def test_tokenize_lowercases_utf8():
    assert tokens('ÉTÉ') == ['été']


def test_module_has_reusable_savedmodel_attributes(module_dir):
    module = tf.saved_model.load(module_dir)
    assert [v.shape.as_list() for v in module.variables] == [[len(WORDS) + 1, DIM]]
    assert [v.shape.as_list() for v in module.trainable_variables] == [[len(WORDS) + 1, DIM]]
    assert list(module.regularization_losses) == []


def test_known_words_map_to_their_vectors(module_dir, glove):
    vectors = glove[1]
    out = embed(tf.saved_model.load(module_dir), 'movie', 'ÉTÉ')
    np.testing.assert_allclose(out, [vectors['movie'], vectors['été']], rtol=1e-6)


def test_unknown_words_map_to_the_oov_bucket_rows(tmp_path, glove):
    words, vectors = glove[0]
    build_text_embedding(words, vectors, str(tmp_path / 'm'), oov_buckets=3)
    module = tf.saved_model.load(str(tmp_path / 'm'))
    np.testing.assert_array_equal(module.embeddings.numpy()[len(WORDS) :], np.zeros((3, DIM)))
    oov_rows = np.array([[100.0] * DIM, [200.0] * DIM, [300.0] * DIM], np.float32)
    module.embeddings[len(WORDS) :].assign(oov_rows)
    out = embed(module, 'zzyzx', 'qwertyuiop', 'xylophones', 'zzyzx')
    for row in out:
        assert any(np.array_equal(row, oov) for oov in oov_rows)
    np.testing.assert_array_equal(out[0], out[3])  # the same word always hashes to the same bucket


def test_output_is_the_sqrtn_combination_of_token_vectors(module_dir, glove):
    v = glove[1]
    out = embed(tf.saved_model.load(module_dir), 'Great movie!', 'great zzyzx')
    expected = [(v['great'] + v['movie'] + v['!']) / np.sqrt(3), v['great'] / np.sqrt(2)]  # OOV row is zero
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_every_batch_size_embeds_as_tokenize_splits(module_dir, glove):
    """The module's hashed fast path (ASCII lower-casing, a second UTF-8 look
    for unknown tokens, batches of 64+ in slices) gives `tokenize`'s tokens."""
    v = glove[1]
    texts = ['The GREAT movie!<br />Loved it', 'ÉTÉ, really.', '', 'great\x96movie zzyzx', 'It<br>,IT'] * 13
    for batch in (texts[:5], texts):  # one piece, and 65 texts in slices
        out = embed(tf.saved_model.load(module_dir), *batch)
        for text, row in zip(batch, out):
            words = tokens(text)
            expected = sum((v[w] for w in words if w in v), np.zeros(DIM)) / np.sqrt(max(len(words), 1))
            np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-7)


def test_texts_without_tokens_give_zeros(module_dir, glove):
    out = embed(tf.saved_model.load(module_dir), '', 'great', ' <br /> ')
    np.testing.assert_array_equal(out[[0, 2]], np.zeros((2, DIM)))
    np.testing.assert_allclose(out[1], glove[1]['great'], rtol=1e-6)


def test_keras_layer_gives_float32_batch_by_dim(module_dir):
    layer = hub.KerasLayer(module_dir, input_shape=[], dtype=tf.string, trainable=True)
    out = layer(tf.constant(['great movie', '', 'loved it']))
    assert out.dtype == tf.float32
    assert out.shape == (3, DIM)
    assert embed(tf.saved_model.load(module_dir)).shape == (0, DIM)  # empty batch


def test_one_adam_step_fine_tunes_the_rows_of_the_words_in_the_batch(module_dir):
    layer = hub.KerasLayer(module_dir, input_shape=[], dtype=tf.string, trainable=True)
    model = tf.keras.Sequential([layer, tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    (table,) = [w for w in layer.trainable_weights if w.shape == (len(WORDS) + 1, DIM)]
    before = table.numpy().copy()
    model.train_on_batch(tf.constant(['great movie', 'loved it']), tf.constant([[1.0], [0.0]]))
    changed = np.abs(table.numpy() - before).max(axis=1) > 1e-4
    in_batch = [WORDS.index(w) for w in ('great', 'movie', 'loved', 'it')]
    assert changed[in_batch].all()
    assert changed.sum() == len(in_batch)  # sparse update: other rows stay put


def test_bigram_buckets_add_hashed_word_pairs_that_fine_tune(glove, tmp_path):
    words, vectors = glove[0]
    output = str(tmp_path / 'bigrams')
    assert build_text_embedding(words, vectors, output, bigram_buckets=8)['bigram_buckets'] == 8
    layer = hub.KerasLayer(output, input_shape=[], dtype=tf.string, trainable=True)
    (table,) = layer.trainable_weights
    assert table.shape == (len(WORDS) + 1 + 8, DIM)
    assert layer(tf.constant(['great movie', ''])).shape == (2, DIM)
    # Bigram rows start at zero: only the norm (3 vectors, not 2) tells them apart at first.
    two_words = glove[1]['great'] + glove[1]['movie']
    np.testing.assert_allclose(embed(tf.saved_model.load(output), 'great movie')[0], two_words / np.sqrt(3), rtol=1e-5)

    model = tf.keras.Sequential([layer, tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    before = table.numpy().copy()
    model.train_on_batch(tf.constant(['great movie']), tf.constant([[1.0]]))
    changed = np.abs(table.numpy() - before).max(axis=1) > 1e-4
    assert changed[len(WORDS) + 1 :].sum() == 1  # the one bucket of "great movie"
    assert changed[[WORDS.index('great'), WORDS.index('movie')]].all()


def test_bigrams_pair_neighbours_within_a_text_only(glove, tmp_path):
    words, vectors = glove[0]
    output = str(tmp_path / 'bigrams')
    build_text_embedding(words, vectors, output, bigram_buckets=1, combiner='mean')
    module = tf.saved_model.load(output)
    module.embeddings[len(WORDS) + 1 :].assign(np.full((1, DIM), 10.0, np.float32))
    v = glove[1]
    # One text per word: no pair, whatever the batch size; two words: one pair.
    for batch in (['great', 'movie'], ['great', 'movie'] * 40):
        np.testing.assert_allclose(embed(module, *batch)[:2], [v['great'], v['movie']], rtol=1e-6)
    np.testing.assert_allclose(embed(module, 'great movie')[0], (v['great'] + v['movie'] + 10.0) / 3, rtol=1e-6)


def test_linear_buckets_add_a_last_column_summing_the_weights_of_each_distinct_n_gram(glove, tmp_path):
    words, vectors = glove[0]
    output = str(tmp_path / 'linear')
    build_text_embedding(words, vectors, output, bigram_buckets=4, combiner='mean', linear_buckets=64)
    module = tf.saved_model.load(output)
    plain = str(tmp_path / 'plain')
    build_text_embedding(words, vectors, plain, bigram_buckets=4, combiner='mean')
    texts = ['great movie! great movie!', 'loved it', '', 'été']
    # The embedding is untouched; the last column is zero until the Trainer fits it.
    embedded = embed(module, *texts)
    assert embedded.shape == (4, DIM + 1)
    np.testing.assert_allclose(embedded[:, :DIM], embed(tf.saved_model.load(plain), *texts), rtol=1e-6)
    np.testing.assert_array_equal(embedded[:, DIM], 0)
    assert module.linear_weights.shape == (len(WORDS) + 1 + 64,)
    assert module.linear_weights not in hub.KerasLayer(output, trainable=True).trainable_weights

    found = module.feature_ids(tf.constant(texts))
    pairs = sorted(zip(found['rows'].numpy().tolist(), found['ids'].numpy().tolist()))
    assert len(pairs) == len(set(pairs))  # each feature once per text
    per_text = [sorted(i for r, i in pairs if r == row) for row in range(len(texts))]
    words_of = [[i for i in ids if i < len(WORDS)] for ids in per_text]
    assert words_of == [sorted(WORDS.index(w) for w in ('great', 'movie', '!')), [4, 5], [], [WORDS.index('été')]]
    # 'great movie! great movie!': 3 distinct pairs (great movie, movie !, ! great) and 3 triples at most.
    assert 4 <= len(per_text[0]) <= 3 + 6 and len(per_text[1]) == 3 and len(per_text[3]) == 1

    plain_found = tf.saved_model.load(plain).feature_ids(tf.constant(texts))
    assert sorted(zip(plain_found['rows'].numpy().tolist(), plain_found['ids'].numpy().tolist())) == [
        (row, i) for row, ids in enumerate(words_of) for i in ids
    ]  # a module without a linear score: words only

    weights = np.arange(1, module.linear_weights.shape[0] + 1, dtype=np.float32)
    module.linear_weights.assign(weights)
    for batch in (texts, texts * 20):  # the same whether the batch is sliced or not
        scores = embed(module, *batch)[: len(texts), DIM]
        np.testing.assert_allclose(scores, [weights[ids].sum() for ids in per_text], rtol=1e-6)


def test_mean_combiner_with_a_faster_table_gives_the_mean_and_trains_the_table_faster(glove, tmp_path):
    words, vectors = glove[0]
    plain, fast = str(tmp_path / 'mean'), str(tmp_path / 'mean-lr3')
    build_text_embedding(words, vectors, plain, combiner='mean')
    build_text_embedding(words, vectors, fast, combiner='mean', table_lr_multiplier=3.0)
    v = glove[1]
    for module_dir in (plain, fast):  # the multiplier does not change the output
        np.testing.assert_allclose(
            embed(tf.saved_model.load(module_dir), 'great movie!', '')[0],
            (v['great'] + v['movie'] + v['!']) / 3,
            rtol=1e-5,
        )

    def adam_step_moves_great_by(module_dir):
        layer = hub.KerasLayer(module_dir, input_shape=[], dtype=tf.string, trainable=True)
        model = tf.keras.Sequential([layer, tf.keras.layers.Dense(1, kernel_initializer='ones')])
        model.compile(
            optimizer=tf.keras.optimizers.Adam(0.01), loss=tf.keras.losses.BinaryCrossentropy(from_logits=True)
        )
        before = embed(tf.saved_model.load(module_dir), 'great')[0]
        model.train_on_batch(tf.constant(['great']), tf.constant([[0.0]]))
        return np.abs(layer(tf.constant(['great'])).numpy()[0] - before).max()

    # Adam moves each stored weight by ~lr; stored / 3 and used x 3 moves the vector 3x as far.
    assert adam_step_moves_great_by(fast) == pytest.approx(3 * adam_step_moves_great_by(plain), rel=0.05)


@pytest.mark.parametrize(
    'options, reason',
    [
        (dict(combiner='max'), "combiner='max'"),
        (dict(table_lr_multiplier=0), 'table_lr_multiplier=0'),
        (dict(linear_buckets=-1), 'linear_buckets=-1'),
    ],
)
def test_bad_module_options_raise_user_input_error(glove, tmp_path, options, reason):
    words, vectors = glove[0]
    with pytest.raises(UserInputError, match=reason):
        build_text_embedding(words, vectors, str(tmp_path / 'bad'), **options)
    assert not os.path.exists(tmp_path / 'bad')


def test_duplicates_keep_the_first_vector_and_max_words_keeps_the_first_words(tmp_path):
    words = ['a', 'b', 'a', 'c', 'd']
    vectors = np.arange(10, dtype=np.float32).reshape(5, 2)
    summary = build_text_embedding(words, vectors, str(tmp_path / 'm'), max_words=3)
    assert summary['vocab_size'] == 3
    assert (tmp_path / 'm' / 'assets' / 'vocab.txt').read_text(encoding='utf-8') == 'a\nb\nc\n'
    out = embed(tf.saved_model.load(str(tmp_path / 'm')), 'a', 'c', 'd')
    np.testing.assert_array_equal(out, [[0, 1], [6, 7], [0, 0]])  # "d" is beyond max_words: OOV


@pytest.mark.parametrize(
    'words, vectors, reason',
    [
        ([], np.zeros((0, 3)), 'empty vocabulary'),
        (['a b', ''], np.ones((2, 3)), 'empty vocabulary'),
        (['a', 'b'], np.ones((3, 3)), '2 words but 3 vectors'),
        (['a'], np.array([[np.nan]]), 'NaN'),
    ],
)
def test_unusable_vectors_raise_user_input_error(tmp_path, words, vectors, reason):
    with pytest.raises(UserInputError, match=reason):
        build_text_embedding(words, vectors, str(tmp_path / 'm'))
    assert os.listdir(tmp_path) == []


def test_failed_build_leaves_no_output_and_keeps_the_previous_one(tmp_path, monkeypatch):
    output = tmp_path / 'm'

    def failing_save(module, path):
        (pathlib.Path(path) / 'variables').mkdir(parents=True)  # a half-written SavedModel
        raise RuntimeError('disk full')

    monkeypatch.setattr(tf.saved_model, 'save', failing_save)
    with pytest.raises(RuntimeError):
        build_text_embedding(['a'], np.ones((1, 2)), str(output))
    assert os.listdir(tmp_path) == []

    monkeypatch.undo()
    build_text_embedding(['a'], np.ones((1, 2)), str(output))
    monkeypatch.setattr(tf.saved_model, 'save', failing_save)
    with pytest.raises(RuntimeError):
        build_text_embedding(['a'], np.full((1, 2), 5.0), str(output))
    assert os.listdir(tmp_path) == ['m']
    np.testing.assert_array_equal(embed(tf.saved_model.load(str(output)), 'a'), [[1, 1]])


def test_rebuild_replaces_a_module_but_not_an_unrelated_directory(tmp_path):
    output = tmp_path / 'm'
    build_text_embedding(['a'], np.ones((1, 2)), str(output))
    build_text_embedding(['a'], np.full((1, 2), 5.0), str(output))
    assert os.listdir(tmp_path) == ['m']
    np.testing.assert_array_equal(embed(tf.saved_model.load(str(output)), 'a'), [[5, 5]])

    (tmp_path / 'notes').mkdir()
    (tmp_path / 'notes' / 'todo.txt').write_text('keep me')
    with pytest.raises(UserInputError, match='not a SavedModel'):
        build_text_embedding(['a'], np.ones((1, 2)), str(tmp_path / 'notes'))
    assert (tmp_path / 'notes' / 'todo.txt').exists()
