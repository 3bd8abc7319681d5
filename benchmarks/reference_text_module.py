"""The reference that benchmarks/text_module.py times today's text module
against, the straightforward way to the same features: two regex passes over
UTF-8 lower-cased text, ragged tokens, a string vocabulary table (which
hashes every token again for the OOV buckets), bigram strings hashed into
their buckets, one fused segment mean/sqrt-n. Built from the same vocabulary
file, vectors and options as modules.text_embedding.TextEmbedding, so both
embed the same features but for which bigrams share a bucket."""

import tensorflow as tf

from imdb_tfx.modules.text_embedding import TextEmbedding, tokenize


class ReferenceTextEmbedding(TextEmbedding):
    """Today's variables, calling and slicing; the reference's lookup and
    embedding (see the module docstring)."""

    feature_ids = None  # the linear score's features: not the reference's

    def __init__(
        self,
        vocab_file: str,
        vectors,
        oov_buckets: int,
        bigram_buckets: int = 0,
        combiner: str = 'sqrtn',
        table_lr_multiplier: float = 1.0,
    ):
        super().__init__(vocab_file, vectors, oov_buckets, bigram_buckets, combiner, table_lr_multiplier)
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
        self._segment_combine = tf.sparse.segment_mean if combiner == 'mean' else tf.sparse.segment_sqrt_n

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
