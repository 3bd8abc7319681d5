"""The text module as it was before the speed work (commit 4afd656), kept as
the reference that benchmarks/text_module.py times today's module against:
two regex passes over UTF-8 lower-cased text, ragged tokens, a string
vocabulary table (which hashes every token again for the OOV buckets),
bigram strings hashed into their buckets, one fused segment mean/sqrt-n.
Built from the same vocabulary file, vectors and options as
modules.text_embedding.TextEmbedding, so both embed the same features but
for which bigrams share a bucket."""

import numpy as np
import tensorflow as tf

from modules.text_embedding import _MAX_SLICES, _PARALLEL_FROM, tokenize


class ReferenceTextEmbedding(tf.Module):
    """Raw texts -> combined token embeddings, the reference way (see the module docstring)."""

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
    ):
        super().__init__(name='reference_text_embedding')
        self.vocab_file = tf.saved_model.Asset(vocab_file)
        self._table = tf.lookup.StaticVocabularyTable(
            tf.lookup.TextFileInitializer(
                self.vocab_file,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            ),
            num_oov_buckets=oov_buckets,
        )
        self._bigram_offset = len(vectors) + oov_buckets
        self._bigram_buckets = bigram_buckets
        self._segment_combine = tf.sparse.segment_mean if combiner == 'mean' else tf.sparse.segment_sqrt_n
        self._scale = float(table_lr_multiplier)
        # OOV and bigram rows start at zero, see the class docstring.
        new_rows = np.zeros((oov_buckets + bigram_buckets, vectors.shape[1]), np.float32)
        self.embeddings = tf.Variable(np.concatenate([vectors, new_rows]) / self._scale, name='embeddings')
        self.variables = [self.embeddings]
        self.trainable_variables = [self.embeddings]
        self.regularization_losses = []

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

    def _embed(self, texts):
        tokens = tokenize(texts)
        ids = tf.ragged.map_flat_values(self._table.lookup, tokens)
        if self._bigram_buckets:
            # Word pairs carry what single words miss ("not good"), as in fastText.
            bigrams = tf.strings.ngrams(tokens, 2, separator=' ')
            bigram_ids = tf.ragged.map_flat_values(
                lambda b: tf.strings.to_hash_bucket_fast(b, self._bigram_buckets) + self._bigram_offset, bigrams
            )
            ids = tf.concat([ids, bigram_ids], axis=1)
        # One fused gather-and-reduce kernel; IndexedSlices gradients (only the
        # rows a batch uses); zeros for a text without tokens.
        combined = self._segment_combine(
            self.embeddings, ids.flat_values, ids.value_rowids(), num_segments=ids.nrows(), sparse_gradient=True
        )
        return combined * self._scale
