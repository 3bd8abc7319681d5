"""The options of every command that builds the pipeline (`run`,
`compile-kfp`, `submit`), defined once so that they cannot drift apart: the
recipe, the embedding, every hyperparameter with a `help` in
modules/hparams.py, the release gate's thresholds, the split, the spans
window and drift thresholds, and caching; and from_options, the one place
where they become the pipeline's configuration (pipeline/config.py)."""

import dataclasses
from typing import Any, Callable, Dict, Iterable, Mapping, Sequence

import click

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.hparams import PIPELINE_BUILT_HUB_HANDLE, Hyperparameters
from imdb_tfx.pipeline import configs, recipes
from imdb_tfx.pipeline.config import DataConfig, GateConfig, PipelineConfig, SpansConfig, TrainingConfig

_HYPERPARAMETER_FIELDS = [f for f in dataclasses.fields(Hyperparameters) if 'help' in f.metadata]


def _training_options():
    """The recipe, the module and every hyperparameter."""
    yield click.option(
        '--recipe',
        default=recipes.DEFAULT_RECIPE,
        show_default=True,
        type=click.Choice(list(recipes.RECIPES)),
        help='Training preset (pipeline/recipes.py): seed is the tutorial exactly.',
    )
    yield click.option(
        '--hub',
        help="TF-Hub handle: a tfhub.dev/Kaggle URL or a module path. Default: the recipe's module from GloVe 6B 50d.",
    )
    for field in _HYPERPARAMETER_FIELDS:
        flag = field.name.replace('_', '-')
        yield click.option(
            f'--{flag}/--no-{flag}' if field.type is bool else f'--{flag}',
            field.name,
            default=None,
            type=None if field.type is bool else field.type,
            help=f'{field.metadata["help"]} The recipe sets it.',
        )


def _gate_options():
    """The release gate's thresholds."""
    yield click.option(
        '--min-accuracy', type=click.FloatRange(0, 1), help=f'Accuracy floor for the blessing [{configs.MIN_ACCURACY}].'
    )
    yield click.option(
        '--max-accuracy-drop',
        type=click.FloatRange(0, 1),
        help="How far below the serving model's accuracy a candidate may be, with the regression "
        f'confidence, and still pass [{configs.MAX_ACCURACY_DROP}].',
    )
    yield click.option(
        '--regression-confidence',
        type=click.FloatRange(0.5, 1, max_open=True),
        help='The confidence with which a candidate must be worse than the serving model, on the same eval '
        f'reviews (exact paired interval), to be rejected [{configs.REGRESSION_CONFIDENCE}].',
    )
    yield click.option(
        '--min-metric',
        'min_metric',
        multiple=True,
        metavar='METRIC=VALUE',
        help='One more floor for the blessing, on any TFMA metric by class name, e.g. AUC=0.95 (repeatable).',
    )


def _data_options():
    """The split, the schema, continuous training and caching."""
    yield click.option(
        '--split',
        type=click.Choice(configs.SPLITS),
        help=f"Train/valid/eval split: by movie, random (the tutorial's), or the source's own test split as "
        f'eval [{configs.SPLIT}].',
    )
    yield click.option(
        '--infer-schema', is_flag=True, help='Infer the schema with SchemaGen instead of importing the curated one.'
    )
    yield click.option(
        '--window',
        type=click.IntRange(min=1),
        help='Continuous training, on a spans folder (prepare-data --spans, ingest): train on the newest W '
        f'accepted spans [{configs.SPAN_WINDOW}]. compile-kfp/submit: compiles the spans pipeline.',
    )
    yield click.option(
        '--max-drift',
        'max_drift',
        multiple=True,
        metavar='MEASURE=DISTANCE',
        help='With spans: the largest drift from the previous accepted span that passes, per measure '
        f'({", ".join(configs.DRIFT_THRESHOLDS)}; repeatable) [DRIFT_THRESHOLDS in pipeline/configs.py].',
    )
    yield click.option('--no-cache', is_flag=True, help='Re-execute every component.')


def pipeline_options(command: Callable) -> Callable:
    """Adds the shared options to a click command, in --help order."""
    options = [*_training_options(), *_gate_options(), *_data_options()]
    for option in reversed(options):
        command = option(command)
    return command


def parse_options(args: Sequence[str] = ()) -> Dict[str, Any]:
    """The shared options' values for command-line ARGS, as a command gets
    them: `from_options(parse_options(['--epochs', '3']))` is the
    configuration `imdb-tfx run --epochs 3` starts from."""

    @click.command()
    @pipeline_options
    def options(**values):
        return values

    return options.main(list(args), standalone_mode=False)


def given_options(options: Mapping[str, Any]) -> frozenset:
    """The options the user set (click gives None, () or a flag's False otherwise)."""
    return frozenset(
        name for name, value in options.items() if value is not None and value is not False and value != ()
    )


def from_options(options: Mapping[str, Any], schema_file: str = configs.SCHEMA_FILE) -> PipelineConfig:
    """The pipeline's configuration from the shared options: the recipe's
    preset with the options given on top, every other knob at its default in
    pipeline/configs.py. schema_file: the curated schema as the run sees it
    (unless --infer-schema). Bad values fail here, before TFX's imports."""
    preset = recipes.get(options['recipe'])
    hub = options.get('hub')
    hyperparameters = _hyperparameters(preset.hyperparameters, options, hub or PIPELINE_BUILT_HUB_HANDLE)
    return PipelineConfig(
        recipe=options['recipe'],
        hub=hub,
        data=DataConfig(
            split=options['split'] or configs.SPLIT, schema_file=None if options['infer_schema'] else schema_file
        ),
        training=TrainingConfig(
            hyperparameters=hyperparameters,
            use_unlabeled=hyperparameters.self_trains,
            # The recipe's module when no hub is given; each runner says where it comes from.
            embedding=None if hub else preset.embedding,
        ),
        gate=_gate(options),
        spans=SpansConfig(
            window=options['window'] or configs.SPAN_WINDOW, drift_thresholds=drift_thresholds(options['max_drift'])
        ),
        enable_cache=not options['no_cache'],
        given=given_options(options),
    )


def _hyperparameters(preset: Hyperparameters, options: Mapping[str, Any], hub_handle: str) -> Hyperparameters:
    given = {f.name: options[f.name] for f in _HYPERPARAMETER_FIELDS if options[f.name] is not None}
    try:
        return dataclasses.replace(preset, hub_handle=hub_handle, **given)
    except ValueError as e:
        raise UserInputError(str(e)) from e


def _gate(options: Mapping[str, Any]) -> GateConfig:
    def given_or(name: str, default: float) -> float:
        return default if options[name] is None else options[name]

    return GateConfig(
        min_accuracy=given_or('min_accuracy', configs.MIN_ACCURACY),
        max_accuracy_drop=given_or('max_accuracy_drop', configs.MAX_ACCURACY_DROP),
        regression_confidence=given_or('regression_confidence', configs.REGRESSION_CONFIDENCE),
        metric_floors={**configs.METRIC_FLOORS, **_pairs(options['min_metric'], '--min-metric')},
    )


def _pairs(given: Iterable[str], option: str) -> Dict[str, float]:
    """{NAME: number} from NAME=NUMBER values."""
    pairs = {}
    for pair in given:
        name, _, value = pair.partition('=')
        try:
            pairs[name] = float(value)
        except ValueError:
            raise UserInputError(f'{option} {pair}: {value!r} is not a number') from None
    return pairs


def drift_thresholds(given: Iterable[str]) -> Dict[str, float]:
    """DRIFT_THRESHOLDS with the given --max-drift MEASURE=DISTANCE pairs on top."""
    thresholds = dict(configs.DRIFT_THRESHOLDS)
    for measure, value in _pairs(given, '--max-drift').items():
        if measure not in thresholds:
            raise UserInputError(
                f'--max-drift {measure}={value:g}: no measure {measure!r} (measures: {", ".join(thresholds)})'
            )
        thresholds[measure] = value
    return thresholds
