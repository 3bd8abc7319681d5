"""Training hyperparameters: the contract between the pipeline's configuration
and the Trainer module (passed through Trainer's `custom_config`)."""

import dataclasses
from typing import Any, Dict

# The tutorial's model, from tfhub.dev. Offline runs pass a local module path.
SEED_HUB_HANDLE = 'https://tfhub.dev/google/tf2-preview/gnews-swivel-20dim/1'
# The hub_handle of a run whose module the pipeline builds (EmbeddingBuilder):
# the Trainer gets the built module's URI in its place.
PIPELINE_BUILT_HUB_HANDLE = '(built by EmbeddingBuilder)'


def _option(default, help_text: str):
    return dataclasses.field(default=default, metadata={'help': help_text})


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """Defaults are the tutorial's recipe exactly. A field with a `help` in
    its metadata is a command-line option of every command that builds the
    pipeline (pipeline/options.py): --epochs, --batch-size, ..."""

    hub_handle: str = SEED_HUB_HANDLE
    epochs: int = _option(20, 'Epochs (the most, with early stopping).')
    batch_size: int = _option(512, 'Training batch size.')
    learning_rate: float = _option(0.001, "Adam's learning rate.")
    hidden_units: int = _option(16, 'Units of the hidden Dense layer.')
    dropout: float = _option(0.0, 'Dropout before and after the hidden layer (0: none).')
    early_stopping_patience: int = _option(
        0,
        'Stop after this many epochs without a better accuracy on the valid split (and at least '
        '--min-patience-steps optimizer steps), keeping the best epoch (0: train every epoch).',
    )
    min_patience_steps: int = _option(
        100,
        "Early stopping's patience lasts at least this many optimizer steps: a small training set (one "
        'span) has few steps an epoch and would stop at the majority class.',
    )
    self_training_confidence: float = _option(
        0.0,
        "Self-training on the unlabeled reviews: 0 turns it off, else the teacher's "
        'confidence in [0.5, 1) for a review to join training.',
    )
    self_training_teacher: str = _option(
        'network',
        "Who labels the unlabeled reviews in each round: 'network' (the previous model's network) or 'stack' "
        '(that network stacked on valid with the linear n-gram score, when the module has one).',
    )
    self_training_rounds: int = _option(
        1,
        "Rounds of self-training, each round's model labelling for the next; the last one is exported "
        '(or refitted, with --refit).',
    )
    # Valid has made every choice (epochs, calibration, stack) before the
    # refit, so the exported model may learn from it too.
    refit: bool = _option(
        False,
        'Export a fresh model fitted on train + valid (and the pseudo-labelled reviews when self-training) '
        'for as many epochs as the chosen model kept (its best, with early stopping).',
    )
    calibrate: bool = _option(
        False,
        'Calibrate P(positive) by a temperature fitted on the valid split (decisions unchanged). A module '
        'with a linear score is calibrated by its stack instead, with or without this.',
    )
    # For continuous training: a new window of spans continues from what serves.
    warm_start: bool = _option(
        False,
        "Start every training of the run from the serving model's weights (cold when nothing serves), "
        'each for at most --warm-start-epochs.',
    )
    warm_start_epochs: int = _option(
        3, 'Epochs (the most, with early stopping) of a warm-started training, in place of --epochs.'
    )
    seed: int = _option(42, 'Random seed of the weights, dropout and shuffling (self-training round N uses seed + N).')

    def __post_init__(self):
        if self.epochs < 1 or self.warm_start_epochs < 1 or self.batch_size < 1 or self.hidden_units < 1:
            raise ValueError(f'epochs, warm_start_epochs, batch_size and hidden_units must be >= 1: {self}')
        if not self.learning_rate > 0:
            raise ValueError(f'learning_rate must be > 0: {self}')
        if not 0 <= self.dropout < 1 or self.early_stopping_patience < 0 or self.min_patience_steps < 0:
            raise ValueError(f'dropout must be in [0, 1), early_stopping_patience and min_patience_steps >= 0: {self}')
        if self.self_training_confidence and not 0.5 <= self.self_training_confidence < 1:
            raise ValueError(f'self_training_confidence must be 0 (off) or in [0.5, 1): {self}')
        if self.self_training_teacher not in ('network', 'stack'):
            raise ValueError(f"self_training_teacher must be 'network' or 'stack': {self}")
        if self.self_training_rounds < 1:
            raise ValueError(f'self_training_rounds must be >= 1: {self}')

    @property
    def self_trains(self) -> bool:
        """Whether training needs the unlabeled examples."""
        return bool(self.self_training_confidence)

    def to_custom_config(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, config: Dict[str, Any]) -> 'Hyperparameters':
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f'unknown hyperparameters in custom_config: {sorted(unknown)}')
        return cls(**config)
