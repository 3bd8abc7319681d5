"""The text-embedding module every exported model carries, and its builder:
a TF-Hub-format SavedModel made from word vectors.

The result loads like tfhub.dev's gnews-swivel / nnlm text modules:
`hub.KerasLayer(path, input_shape=[], dtype=tf.string, trainable=True)` maps a
batch of raw texts to float32 [batch, dim], and fine-tuning trains the table.

Text contract (runs inside the SavedModel, see `tokenize`): lower-case, HTML
line breaks to spaces, punctuation split off as tokens, split on whitespace.
Each token is looked up in the vocabulary (unknown tokens hash to one of the
OOV buckets), each pair of adjacent tokens optionally hashes to one of the
bigram buckets, and a text's embedding combines their vectors:
sum / sqrt(count) (`sqrtn`, tfhub.dev's text modules) or their `mean`.
With `linear_buckets`, the embedding gains one last column: the sum of a
per-feature weight over the text's distinct words, word pairs and triples
(hashed into that many buckets): a linear bag-of-n-grams model's score,
fitted by the Trainer (modules/linear_score.py).
Vocabulary words are matched as they are, so they should already be in the
tokenizer's normal form (GloVe 6B is lower-case).
"""

import collections
import logging
import os
import re
import tempfile

import numpy as np
import tensorflow as tf

from imdb_tfx.core import atomic, names
from imdb_tfx.core.errors import UserInputError

logger = logging.getLogger(__name__)

VOCAB_FILE_NAME = 'vocab.txt'
# `<br />`, `<br/>` and `<br>`: the IMDB reviews' paragraph breaks.
_LINE_BREAK = r'<br\s*/?>'
# Unicode punctuation and symbols (this covers every ASCII punctuation mark),
# and the C1 controls U+0080-U+009F: in IMDB they are Windows-1252 dashes and
# ellipses decoded as Latin-1, and would otherwise glue words together.
_PUNCTUATION = r'[\pP\pS\x{80}-\x{9f}]'
# A batch of at least _PARALLEL_FROM texts is embedded in _MAX_SLICES slices in
# parallel, a smaller one in one piece (empty slices cost more than they
# gain). No core count: the inter-op pool decides how many slices run at once.
_MAX_SLICES = 8
_PARALLEL_FROM = 64
# A word with ASCII whitespace can never come out of the tokenizer, and would
# break the one-token-per-line vocabulary file.
_WHITESPACE = re.compile(r'[ \t\n\r\f\v]')
# Token hashes: Fingerprint64 modulo the largest int64.
_HASH_RANGE = 2**63 - 1
# 2^64 / golden ratio, odd: the multiplier of bigram hashes.
_GOLDEN = 0x9E3779B97F4A7C15


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    """Splits a [batch] string tensor into a [batch, (tokens)] ragged tensor."""
    texts = tf.strings.lower(texts, encoding='utf-8')
    texts = tf.strings.regex_replace(texts, _LINE_BREAK, ' ')
    texts = tf.strings.regex_replace(texts, _PUNCTUATION, r' \0 ')
    return tf.strings.split(texts)


COMBINERS = ('sqrtn', 'mean')


class TextEmbedding(tf.Module):
    """Raw texts -> combined token embeddings, as a reusable SavedModel.

    The module computes `tokenize`'s tokens without their strings' second
    life: each token is hashed once (64-bit fingerprint), the hash finds the
    word's row in an integer table (a string table would hash it again), and
    a bigram's bucket is mixed from its two words' hashes, so no bigram
    string is ever built. Text is lower-cased as ASCII (far cheaper than
    UTF-8); the few tokens the vocabulary does not know are lower-cased again
    as UTF-8 and looked up once more, which gives `tokenize`'s result
    (benchmarks/text_module_profile.md profiles each stage).

    OOV bucket rows start at zero: an unknown word adds nothing to the
    pretrained sum until fine-tuning gives it a meaning (it still counts in the
    sqrt(n) normalisation), and the build is deterministic. Identical rows are
    no symmetry problem: different words hash to different buckets, so the
    buckets get different gradients.

    `table_lr_multiplier` m stores the table divided by m and multiplies the
    output by m: the output is the same, but under Adam (whose steps do not
    depend on the gradient's scale) the table fine-tunes m times faster than
    the head it feeds. The saved `embeddings` variable holds vectors / m.

    `linear_buckets` adds a `linear_weights` variable (a weight per word, OOV
    bucket and n-gram bucket, zero until the Trainer fits it; not
    fine-tuned) and the output's last column: the sum of the weights of the
    text's distinct features (`feature_ids`).
    """

    # tf.Module defines these as computed, read-only properties, which
    # tf.saved_model.save does not store. Shadowing them with plain class
    # attributes lets __init__ set them as tracked lists that are saved: the
    # Reusable SavedModel API hub.KerasLayer(trainable=True) reads. Without
    # them the table silently stays frozen.
    variables = None
    trainable_variables = None
    regularization_losses = None

    def __init__(
        self,
        vocab_file: str,
        vectors: np.ndarray,
        oov_buckets: int,
        bigram_buckets: int = 0,
        combiner: str = 'sqrtn',
        table_lr_multiplier: float = 1.0,
        linear_buckets: int = 0,
    ):
        super().__init__(name='text_embedding')
        # The vocabulary ships as a readable asset; the table is keyed by the words' hashes.
        self.vocab_file = tf.saved_model.Asset(vocab_file)
        with open(vocab_file, encoding='utf-8', newline='\n') as f:
            words = f.read().split('\n')[:-1]  # one word per line, as written
        keys = token_hashes(words)
        if len(np.unique(keys)) != len(keys):
            raise UserInputError(f'{vocab_file}: two words share a 64-bit fingerprint; drop one of them')
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, np.arange(len(keys), dtype=np.int64)), default_value=-1
        )
        self._vocab_size = len(words)
        self._oov_buckets = oov_buckets
        self._bigram_offset = len(vectors) + oov_buckets
        self._bigram_buckets = bigram_buckets
        self._mean = combiner == 'mean'
        self._scale = float(table_lr_multiplier)
        # OOV and bigram rows start at zero, see the class docstring.
        new_rows = np.zeros((oov_buckets + bigram_buckets, vectors.shape[1]), np.float32)
        self.embeddings = tf.Variable(np.concatenate([vectors, new_rows]) / self._scale, name='embeddings')
        self.variables = [self.embeddings]
        self.trainable_variables = [self.embeddings]
        self.regularization_losses = []
        self._linear_buckets = linear_buckets
        if linear_buckets:
            # Words and OOV buckets as in the table, then the n-gram buckets.
            # Not trainable: the Trainer fits it apart (modules/linear_score.py).
            self.linear_weights = tf.Variable(
                np.zeros(self._bigram_offset + linear_buckets, np.float32), name='linear_weights'
            )
            self.variables.append(self.linear_weights)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        size = tf.size(texts)
        return tf.cond(size < _PARALLEL_FROM, lambda: self._embed(texts), lambda: self._embed_in_slices(texts, size))

    def _embed_in_slices(self, texts, size):
        # String kernels are single-threaded: a large batch is cut into
        # slices that TensorFlow's inter-op thread pool, sized to the cores of
        # the machine that serves, runs in parallel. (cond keeps the
        # gradients IndexedSlices.)
        bounds = [size * i // _MAX_SLICES for i in range(_MAX_SLICES + 1)]
        return tf.concat([self._embed(texts[start:end]) for start, end in zip(bounds, bounds[1:])], axis=0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def feature_ids(self, texts):
        """The linear score's features of each text, once each however often
        it has them: {'rows': the text's index in the batch, 'ids': the
        feature's index in `linear_weights`} (words and OOV buckets as in the
        table, then the bigram and trigram buckets; words only in a module
        without a linear score)."""
        tokens, token_rows = self._tokenize(texts)
        ids, hashes = self._word_ids(tokens)
        adjacent = _adjacent_hashes(hashes)
        features = self._linear_features(ids, hashes, token_rows, adjacent, _pairs(adjacent, token_rows))
        return dict(zip(('rows', 'ids'), features))

    def _embed(self, texts):
        rows = tf.size(texts, out_type=tf.int64)
        tokens, token_rows = self._tokenize(texts)
        ids, hashes = self._word_ids(tokens)
        features = [(ids, token_rows)]
        with tf.name_scope('bigram_ids'):
            if self._bigram_buckets or self._linear_buckets:
                adjacent = _adjacent_hashes(hashes)
                pairs = _pairs(adjacent, token_rows)
            if self._bigram_buckets:
                # Word pairs carry what single words miss ("not good"), as in
                # fastText: neighbours in the same text, bucketed by their hashes.
                firsts, pair_hashes = pairs
                features.append(
                    (_bucket(pair_hashes, self._bigram_buckets) + self._bigram_offset, tf.gather(token_rows, firsts))
                )
        # One fused gather-and-reduce kernel per kind of feature; IndexedSlices
        # gradients (only the rows a batch uses).
        with tf.name_scope('gather_and_sum'):
            summed = tf.add_n(
                [
                    tf.sparse.segment_sum(
                        self.embeddings, feature_ids, feature_rows, num_segments=rows, sparse_gradient=True
                    )
                    for feature_ids, feature_rows in features
                ]
            )
            count = tf.math.bincount(token_rows, minlength=rows, maxlength=rows, dtype=tf.int64)
            if self._bigram_buckets:
                count = tf.maximum(2 * count - 1, 0)  # n words, n - 1 pairs
            # A text without tokens sums to zeros and stays zero.
            count = tf.cast(tf.maximum(count, 1), tf.float32)[:, tf.newaxis]
            embedded = summed * (self._scale / (count if self._mean else tf.sqrt(count)))
        if not self._linear_buckets:
            return embedded
        with tf.name_scope('linear_score'):
            feature_rows, feature_ids = self._linear_features(ids, hashes, token_rows, adjacent, pairs)
            score = tf.math.unsorted_segment_sum(tf.gather(self.linear_weights, feature_ids), feature_rows, rows)
            return tf.concat([embedded, score[:, tf.newaxis]], axis=1)

    def _tokenize(self, texts):
        # Name scopes label the stages in per-op profiles (benchmarks/profile_text_module.py).
        with tf.name_scope('tokenize'):
            texts = tf.strings.lower(texts)
            texts = tf.strings.regex_replace(texts, _LINE_BREAK, ' ')
            texts = tf.strings.regex_replace(texts, _PUNCTUATION, r' \0 ')
            # The raw op gives each token's text row directly (sorted, as the
            # segment reduction wants), with no ragged row-partition ops.
            split = tf.raw_ops.StringSplitV2(input=texts, sep='')
            return split.values, split.indices[:, 0]

    def _word_ids(self, tokens):
        """Each token's row of the table (a word's, or an OOV bucket's) and its hash."""
        with tf.name_scope('word_ids'):
            hashes = _hash(tokens)
            ids = self._table.lookup(hashes)
            # Words with non-ASCII capitals ("ÉTÉ") are unknown after ASCII
            # lower-casing: lower-case the unknown tokens as UTF-8 and look again.
            unknown = tf.where(ids < 0)
            rehashed = _hash(tf.strings.lower(tf.gather_nd(tokens, unknown), encoding='utf-8'))
            hashes = tf.tensor_scatter_nd_update(hashes, unknown, rehashed)
            ids = tf.tensor_scatter_nd_update(ids, unknown, self._table.lookup(rehashed))
            return tf.where(ids >= 0, ids, self._vocab_size + hashes % self._oov_buckets), hashes

    def _linear_features(self, ids, hashes, token_rows, adjacent, pairs):
        """The distinct (text row, linear feature) pairs: words, and word
        pairs and triples hashed into the linear model's own buckets, many
        more than the table's (a weight is one number, a table row a whole
        vector). ADJACENT: _adjacent_hashes; PAIRS: _pairs."""
        feature_ids, feature_rows = [ids], [token_rows]
        if self._linear_buckets:  # else words only (a module without a linear score)
            firsts, pair_hashes = pairs
            thirds = tf.where(tf.equal(token_rows[:-2], token_rows[2:]))[:, 0]
            triple_hashes = _pair_hash(tf.gather(adjacent, thirds), tf.gather(hashes, thirds + 2))
            n_grams = tf.concat([pair_hashes, triple_hashes], axis=0)
            feature_ids.append(_bucket(n_grams, self._linear_buckets) + self._bigram_offset)
            feature_rows += [tf.gather(token_rows, firsts), tf.gather(token_rows, thirds)]
        feature_ids, feature_rows = tf.concat(feature_ids, axis=0), tf.concat(feature_rows, axis=0)
        # One int64 key per (row, feature): the row above the feature's bits
        # (shifts, not division: the keys are many).
        bits = int(self._bigram_offset + self._linear_buckets - 1).bit_length()
        keys, _ = tf.unique(tf.bitwise.left_shift(feature_rows, bits) + feature_ids)
        return tf.bitwise.right_shift(keys, bits), tf.bitwise.bitwise_and(keys, (1 << bits) - 1)


def _adjacent_hashes(hashes):
    """The hash of each token with the next one, across text boundaries too
    (_pairs and the triples keep those within a text)."""
    return _pair_hash(hashes[:-1], hashes[1:])


def _pairs(adjacent, token_rows):
    """The index of each pair's first word (neighbours in the same text) and the pair's hash."""
    firsts = tf.where(tf.equal(token_rows[:-1], token_rows[1:]))[:, 0]
    return firsts, tf.gather(adjacent, firsts)


def _bucket(hashes, buckets: int):
    """Non-negative HASHES modulo BUCKETS: a mask when BUCKETS is a power of two."""
    if buckets & (buckets - 1) == 0:
        return tf.bitwise.bitwise_and(hashes, buckets - 1)
    return hashes % buckets


def token_hashes(tokens) -> np.ndarray:
    """The module's 64-bit hash of each token (in `tokenize`'s normal form)."""
    return _hash(tf.constant(list(tokens), tf.string)).numpy()


def _hash(tokens):
    return tf.strings.to_hash_bucket_fast(tokens, _HASH_RANGE)


def _pair_hash(first, second):
    """A non-negative int64 per pair of token hashes: first * golden ratio +
    second in wrapping uint64 arithmetic (the hashes are already uniform
    fingerprints, so every bit of the result is), top bit dropped."""
    key = tf.bitcast(first, tf.uint64) * _GOLDEN + tf.bitcast(second, tf.uint64)
    return tf.bitcast(tf.bitwise.right_shift(key, tf.constant(1, tf.uint64)), tf.int64)


def build_text_embedding(
    words,
    vectors,
    output_dir: str,
    oov_buckets: int = 1,
    max_words: int | None = None,
    bigram_buckets: int = 0,
    combiner: str = 'sqrtn',
    table_lr_multiplier: float = 1.0,
    linear_buckets: int = 0,
) -> dict:
    """Writes the SavedModel whole or not at all (core/atomic.py).

    Duplicate words keep their first vector; `max_words` keeps the first N
    words (GloVe files are frequency ordered). An existing output is replaced
    only once the new one is complete.
    """
    if oov_buckets < 1:
        raise UserInputError(f'oov_buckets={oov_buckets}: need at least 1 out-of-vocabulary bucket')
    if linear_buckets < 0:
        raise UserInputError(f'linear_buckets={linear_buckets}: must be 0 (no linear score) or more')
    if bigram_buckets < 0:
        raise UserInputError(f'bigram_buckets={bigram_buckets}: must be 0 (no bigrams) or more')
    if max_words is not None and max_words < 1:
        raise UserInputError(f'max_words={max_words}: need at least 1 word')
    if combiner not in COMBINERS:
        raise UserInputError(f'combiner={combiner!r}: choose one of {", ".join(COMBINERS)}')
    if not table_lr_multiplier > 0:
        raise UserInputError(f'table_lr_multiplier={table_lr_multiplier}: must be > 0')
    vectors = check_vectors(words, vectors, 'word vectors')
    vocab, vectors = _select_vocabulary(words, vectors, max_words)
    output_dir = os.path.abspath(output_dir)
    # Replacing is for rebuilding a module; never wipe an unrelated directory.
    atomic.check_replaceable(output_dir, is_output=_is_saved_model, what='a SavedModel')
    with tempfile.TemporaryDirectory() as scratch, atomic.replacing_dir(output_dir) as staging:
        vocab_file = os.path.join(scratch, VOCAB_FILE_NAME)
        with open(vocab_file, 'w', encoding='utf-8') as f:
            f.writelines(word + '\n' for word in vocab)
        module = TextEmbedding(
            vocab_file, vectors, oov_buckets, bigram_buckets, combiner, table_lr_multiplier, linear_buckets
        )
        tf.saved_model.save(module, staging)
    summary = {
        'output_dir': output_dir,
        'vocab_size': len(vocab),
        'dim': vectors.shape[1],
        'oov_buckets': oov_buckets,
        'bigram_buckets': bigram_buckets,
        'combiner': combiner,
        'table_lr_multiplier': table_lr_multiplier,
        'linear_buckets': linear_buckets,
    }
    logger.info('Wrote text embedding %s', summary)
    return summary


def corpus_words(files: list[str], min_count: int = 2) -> set[str]:
    """The tokens (in the module's text contract) that occur at least
    min_count times in the `text` feature of gzip'd tf.Example files."""
    counts = collections.Counter()
    texts = (
        tf.data.TFRecordDataset(files, compression_type='GZIP')
        .batch(2048)
        .map(
            lambda records: tf.io.parse_example(records, {names.TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string)})[
                names.TEXT_FEATURE
            ]
        )
    )
    for batch in texts:
        counts.update(tokenize(batch).flat_values.numpy())
    return {token.decode('utf-8') for token, count in counts.items() if count >= min_count}


def check_vectors(words, vectors, source: str) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise UserInputError(f'{source}: expected a [words, dim] matrix, got shape {vectors.shape}')
    if len(words) != vectors.shape[0]:
        raise UserInputError(f'{source}: {len(words)} words but {vectors.shape[0]} vectors')
    if not np.isfinite(vectors).all():
        raise UserInputError(f'{source}: vectors contain NaN or infinity')
    return vectors


def _select_vocabulary(words, vectors: np.ndarray, max_words: int | None) -> tuple[list[str], np.ndarray]:
    rows = {}  # word -> row of its first occurrence; dicts keep insertion order
    for row, word in enumerate(words):
        if isinstance(word, str) and word and not _WHITESPACE.search(word) and word not in rows:
            rows[word] = row
            if len(rows) == max_words:
                break
    if not rows:
        raise UserInputError('word vectors: empty vocabulary (no usable words)')
    logger.info('Vocabulary: %d words kept of %d', len(rows), len(words))
    return list(rows), vectors[list(rows.values())]


def _is_saved_model(path: str) -> bool:
    return os.path.exists(os.path.join(path, 'saved_model.pb'))
