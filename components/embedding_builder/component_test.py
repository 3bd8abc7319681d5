"""EmbeddingBuilder on real Examples artifacts: the vocabulary comes from the
train split and the unlabeled reviews, never from eval."""

import os
import shutil

import tensorflow as tf
import tensorflow_hub as hub
from tfx.types import artifact_utils, standard_artifacts

from imdb_tfx.components.embedding_builder import component


def _examples(uri, prepared, splits):
    """An Examples artifact whose splits hold prepare-data's files of `splits`
    ({artifact split: prepared folder})."""
    artifact = standard_artifacts.Examples()
    artifact.uri = uri
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    for split, folder in splits.items():
        shutil.copytree(os.path.join(prepared, folder), os.path.join(uri, f'Split-{split}'))
    return artifact


def test_the_vocabulary_comes_from_train_and_unlabeled_only(tmp_path, prepared_sample):
    examples = _examples(str(tmp_path / 'examples'), prepared_sample, {'train': 'train', 'eval': 'train'})
    unlabeled = _examples(str(tmp_path / 'unlabeled'), prepared_sample, {'unlabeled': 'unsup'})
    files = component.vocabulary_files([examples], [unlabeled])
    assert files and all('/Split-train/' in f or '/Split-unlabeled/' in f for f in files)
    assert len(component.vocabulary_files([examples], None)) == len(files) - len(
        os.listdir(os.path.join(prepared_sample, 'unsup'))
    )
    # A window of two accepted spans, each with its unlabeled split: both spans' files.
    spans = [
        _examples(
            str(tmp_path / f'span{i}'), prepared_sample, {'train': 'train', 'eval': 'train', 'unlabeled': 'unsup'}
        )
        for i in (1, 2)
    ]
    assert len(component.vocabulary_files(spans, spans)) == 2 * len(files)


def test_the_built_module_embeds_raw_text(tmp_path, prepared_sample, tiny_glove_dir, tiny_vectors):
    examples = _examples(str(tmp_path / 'examples'), prepared_sample, {'train': 'train', 'eval': 'train'})
    module = component.TextEmbeddingModule()
    module.uri = str(tmp_path / 'module')
    component.EmbeddingBuilder.EXECUTOR_SPEC.executor_class().Do(
        {'examples': [examples]},
        {'module': [module]},
        {
            'glove_dir': tiny_glove_dir,
            'bigram_buckets': 64,
            'combiner': 'mean',
            'table_lr_multiplier': 3.0,
            'min_count': 2,
        },
    )
    words, _ = tiny_vectors
    assert 0 < module.get_int_custom_property('vocab_size') <= len(words)
    assert module.get_int_custom_property('bigram_buckets') == 64
    vectors = hub.KerasLayer(module.uri)(tf.constant(['a fine film', '']))
    assert vectors.shape == (2, 16)
