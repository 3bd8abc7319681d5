"""Training recipes: each one small, documented preset of the embedding module
and the Trainer's hyperparameters. The model contract never changes: a TF-Hub
text-embedding layer on raw strings, a small Keras head, two signatures."""

import dataclasses
from typing import Dict

from imdb_tfx.modules.hparams import Hyperparameters

# The offline modules' base: GloVe 6B 50d (components/embedding_builder/word_vectors.py).
GLOVE_MODULE = 'glove-6b-50d'


@dataclasses.dataclass(frozen=True)
class EmbeddingSpec:
    """The offline module a recipe uses when no --hub is given, built once
    under the home from GloVe 6B 50d."""

    # Keep only the GloVe words that occur at least twice in the run's reviews
    # (labelled and unlabeled texts, never labels): 66k of 400k words on IMDB.
    data_vocabulary: bool = False
    # Hashed buckets for pairs of adjacent words ("not good"), fastText-style.
    bigram_buckets: int = 0
    # How token vectors combine: sqrtn (tfhub.dev's text modules) or mean.
    combiner: str = 'sqrtn'
    # The table fine-tunes this many times faster than the head (see
    # modules.text_embedding.TextEmbedding).
    table_lr_multiplier: float = 1.0
    # One more output column: a linear model's score over the text's distinct
    # words, word pairs and triples (hashed into this many buckets), fitted by
    # the Trainer beside the network (modules/linear_score.py). 0: none.
    linear_buckets: int = 0

    @property
    def module_options(self) -> dict:
        """How the module is built (modules.text_embedding.build_text_embedding's options)."""
        return dict(
            bigram_buckets=self.bigram_buckets,
            combiner=self.combiner,
            table_lr_multiplier=self.table_lr_multiplier,
            linear_buckets=self.linear_buckets,
        )

    @property
    def module_name(self) -> str:
        """The module's folder name: GloVe and what sets the module apart from it."""
        name = f'{GLOVE_MODULE}-bigrams-{self.bigram_buckets}' if self.bigram_buckets else GLOVE_MODULE
        if self.combiner != 'sqrtn':
            name += f'-{self.combiner}'
        if self.table_lr_multiplier != 1:
            name += f'-lr{self.table_lr_multiplier:g}'
        if self.linear_buckets:
            name += f'-linear-{self.linear_buckets}'
        return name


@dataclasses.dataclass(frozen=True)
class Recipe:
    description: str
    embedding: EmbeddingSpec
    hyperparameters: Hyperparameters  # its hub_handle is set per run


_BEST_EMBEDDING = EmbeddingSpec(
    data_vocabulary=True, bigram_buckets=2**18, combiner='mean', table_lr_multiplier=3.0, linear_buckets=2**22
)
_BEST_HYPERPARAMETERS = Hyperparameters(
    learning_rate=3e-3,
    dropout=0.3,
    epochs=25,
    early_stopping_patience=3,
    self_training_confidence=0.9,
    self_training_rounds=2,
    refit=True,
    calibrate=True,
)

RECIPES: Dict[str, Recipe] = {
    'seed': Recipe(
        description='The tutorial exactly, with GloVe 6B 50d in place of gnews-swivel-20dim: '
        'Dense(16, relu), Adam 1e-3, batch 512, 20 epochs.',
        embedding=EmbeddingSpec(),
        hyperparameters=Hyperparameters(),
    ),
    'best': Recipe(
        description="GloVe restricted to the reviews' vocabulary plus 262,144 bigram buckets, "
        'mean combiner, the table fine-tuned 3x faster than the head; '
        'dropout 0.3, Adam 3e-3, early stopping on the valid split (patience 3, <= 25 epochs); '
        'then two rounds of self-training: the model labels the unlabeled reviews '
        'and a fresh one learns from the labelled ones plus those labelled with >= 0.9 '
        'confidence, then labels them again for a third; the exported network is the last one '
        'refitted on train + valid for its chosen number of epochs. Beside it, an NBSVM-style '
        "linear model over each review's distinct words, word pairs and triples (4,194,304 hashed "
        'buckets), fitted on the labelled reviews; the two logits are weighed (and so calibrated) '
        'by a logistic regression on valid.',
        embedding=_BEST_EMBEDDING,
        hyperparameters=_BEST_HYPERPARAMETERS,
    ),
    'fast': Recipe(
        description="best's network alone, without the linear n-gram score: faster to serve, less "
        'accurate (docs/text-module.md); P(positive) calibrated by a temperature fitted on valid.',
        embedding=dataclasses.replace(_BEST_EMBEDDING, linear_buckets=0),
        hyperparameters=_BEST_HYPERPARAMETERS,
    ),
}
DEFAULT_RECIPE = 'best'


def get(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f'unknown recipe {name!r}: choose one of {", ".join(RECIPES)}')
    return RECIPES[name]
