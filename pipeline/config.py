"""The pipeline's configuration: a few frozen objects, one per concern.

pipeline/options.py builds a PipelineConfig once from the command line's
options (the recipe's preset, the user's overrides on top); create_pipeline
takes its parts and the Locations. A runner only adds what its platform
decides: the local runner fits the defaults to the data at hand
(fit_to_data), the Kubeflow runner names the image's files."""

import dataclasses
from typing import TYPE_CHECKING, FrozenSet, List, Mapping, Optional, Tuple, Union

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline import configs
from imdb_tfx.pipeline.recipes import EmbeddingSpec

if TYPE_CHECKING:  # TFX's import takes seconds: the options are checked before it
    from tfx.dsl.experimental import RuntimeParameter


@dataclasses.dataclass(frozen=True)
class Locations:
    """Where the pipeline reads and writes: local paths, gs:// or s3:// URLs.
    data_root may be a run-time parameter (Kubeflow)."""

    pipeline_root: str
    data_root: Union[str, 'RuntimeParameter']
    serving_dir: str
    pipeline_name: str = configs.PIPELINE_NAME


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """How the labelled reviews are split into train, valid and eval, and
    which schema checks them (None: SchemaGen infers one)."""

    split: str = configs.SPLIT
    split_buckets: Tuple[int, int, int] = configs.SPLIT_BUCKETS
    schema_file: Optional[str] = configs.SCHEMA_FILE

    def __post_init__(self):
        if self.split not in configs.SPLITS:
            raise ValueError(f'split must be one of {configs.SPLITS}, got {self.split!r}')
        if len(self.split_buckets) != 3 or min(self.split_buckets) < 1:
            raise ValueError(
                f'split_buckets: three positive bucket counts (train, valid, eval), got {self.split_buckets}'
            )


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """What the Trainer fits, and from what.

    hyperparameters may be a run-time parameter holding their JSON (Kubeflow).
    use_unlabeled gives the Trainer the unlabeled reviews (self-training).
    embedding: a recipe's module that depends on the data, built in the
    pipeline (EmbeddingBuilder) from the GloVe wheel in glove_dir; None: the
    hyperparameters' hub_handle. The run_fn comes from module_file (local
    runs: TFX fingerprints the file, so editing it invalidates the cache) or
    from run_fn, an import path (an image that holds the package)."""

    hyperparameters: Union[Hyperparameters, 'RuntimeParameter'] = Hyperparameters()
    use_unlabeled: bool = False
    embedding: Optional[EmbeddingSpec] = None
    glove_dir: Optional[str] = None
    module_file: Optional[str] = configs.TRAINER_MODULE_FILE
    run_fn: Optional[str] = None

    def __post_init__(self):
        if bool(self.module_file) == bool(self.run_fn):
            raise ValueError('give exactly one of module_file and run_fn')

    @property
    def warm_starts(self) -> bool:
        """Whether training starts from the serving model's weights."""
        return isinstance(self.hyperparameters, Hyperparameters) and self.hyperparameters.warm_start


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """The release gate. The candidate's accuracy must clear min_accuracy and,
    when a model is serving, must not be worse than it by more than
    max_accuracy_drop with regression_confidence (the paired interval on the
    same eval reviews, modules/paired_accuracy.py). metric_floors adds a
    lower bound on the overall slice for any TFMA metric by class name, e.g.
    {'AUC': 0.95}. The canary must answer a batch within
    canary_max_batch_seconds (a run-time parameter on Kubeflow)."""

    min_accuracy: float = configs.MIN_ACCURACY
    max_accuracy_drop: float = configs.MAX_ACCURACY_DROP
    regression_confidence: float = configs.REGRESSION_CONFIDENCE
    canary_max_batch_seconds: Union[float, 'RuntimeParameter'] = configs.CANARY_MAX_BATCH_SECONDS
    metric_floors: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SpansConfig:
    """Continuous training over a spans folder (imdb_tfx/spans.py): train on
    the newest `window` accepted spans; stop a span that drifted from the
    newest accepted one by more than drift_thresholds. Earlier runs' accepted
    spans come from ML Metadata, or from the ledger in the `ledger` folder
    (open-source Kubeflow Pipelines resolves no artifacts of earlier runs)."""

    window: int = configs.SPAN_WINDOW
    drift_thresholds: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(configs.DRIFT_THRESHOLDS))
    ledger: Optional[str] = None

    def __post_init__(self):
        if self.window < 1:
            raise ValueError(f'window must be >= 1, got {self.window}')


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What a run's options decide, before a runner says where things are.

    hub: the user's TF-Hub handle (None: the recipe's module). spans: the
    settings a spans pipeline uses (whether the pipeline is one is the
    runner's call). given: the options the user set, which the defaults'
    adjustments to the data must not override."""

    recipe: str
    hub: Optional[str]
    data: DataConfig
    training: TrainingConfig
    gate: GateConfig
    spans: SpansConfig
    enable_cache: bool = True
    given: FrozenSet[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class DataFacts:
    """What the prepared data at hand offers (imdb_tfx/inputs.py reads it)."""

    root: str
    is_spans: bool
    has_movie_ids: bool
    has_unlabeled: bool
    has_test_split: bool
    train_shards: int


def fit_to_data(config: PipelineConfig, facts: DataFacts) -> Tuple[PipelineConfig, Optional[SpansConfig], List[str]]:
    """The local run's configuration for this data, the spans settings when
    the data is a spans folder (else None), and notes on what changed: the
    defaults bend to the data at hand; what the user asked for does not (a
    request the data cannot meet is a UserInputError naming it)."""
    notes = []
    data = config.data
    if 'split' not in config.given and data.split == configs.SPLIT_MOVIE and not facts.has_movie_ids:
        data = dataclasses.replace(data, split=configs.SPLIT_RANDOM)
        notes.append(
            f'no movie_id in {facts.root}: split at random, so reviews of one movie may be on '
            'both sides (eval accuracy flatters by about 1-2 points)'
        )
    check_split_of(data.split, facts)
    if 'window' in config.given and not facts.is_spans:
        raise UserInputError(f'--window: {facts.root} is not a spans folder (prepare-data --spans K)')
    training = config.training
    if training.use_unlabeled and not facts.has_unlabeled:
        if 'self_training_confidence' in config.given:
            check_unlabeled_of(facts)
        hyperparameters = dataclasses.replace(training.hyperparameters, self_training_confidence=0.0)
        training = dataclasses.replace(training, hyperparameters=hyperparameters, use_unlabeled=False)
        notes.append(
            f'no unlabeled reviews in {facts.root}: trained without self-training '
            f'(the {config.recipe} recipe self-trains)'
        )
    fitted = dataclasses.replace(config, data=data, training=training)
    return fitted, config.spans if facts.is_spans else None, notes


def check_unlabeled_of(facts: DataFacts) -> None:
    """Self-training needs reviews without labels."""
    if not facts.has_unlabeled:
        raise UserInputError(
            f'{facts.root}: no unlabeled reviews (unsup/) in this data, which '
            'self-training needs: use --self-training-confidence 0'
        )


def check_split_of(split: str, facts: DataFacts) -> None:
    """The data must have what the split is made from."""
    if split == configs.SPLIT_MOVIE and not facts.has_movie_ids:
        raise UserInputError(f'{facts.root}: no movie_id in this data (a tfds source?): use --split random')
    if split != configs.SPLIT_SOURCE:
        return
    if facts.is_spans:
        raise UserInputError(f'{facts.root}: spans have no test split of their own: use --split movie or random')
    if not facts.has_test_split:
        raise UserInputError(f'{facts.root}: no test split in this data: use --split movie or random')
    if facts.train_shards < 2:
        raise UserInputError(
            f'{facts.root}: one train shard, and --split source takes valid from the first of several: '
            'prepare the data again with more shards, or use --split movie or random'
        )
