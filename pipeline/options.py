"""The options of every command that builds the pipeline (`run`,
`compile-kfp`, `submit`), defined once so that they cannot drift apart: the
recipe, the embedding, every hyperparameter with a `help` in
modules/hparams.py, the release gate's thresholds, the split, the spans
window and drift thresholds, and caching."""

import dataclasses
from typing import Any, Callable, Dict

import click

from imdb_tfx.core.errors import UserInputError
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline import configs, recipes

_HYPERPARAMETER_FIELDS = [f for f in dataclasses.fields(Hyperparameters) if 'help' in f.metadata]


def _options():
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
    for option in reversed(list(_options())):
        command = option(command)
    return command


def hyperparameters(recipe: str, options: Dict[str, Any], **fields) -> Hyperparameters:
    """The recipe's hyperparameters with the given options (and fields) on
    top; takes the hyperparameter options out of `options`."""
    given = {f.name: options.pop(f.name) for f in _HYPERPARAMETER_FIELDS}
    try:
        return dataclasses.replace(
            recipes.get(recipe).hyperparameters, **fields, **{k: v for k, v in given.items() if v is not None}
        )
    except ValueError as e:
        raise UserInputError(str(e)) from e


def gate_settings(options: Dict[str, Any]) -> Dict[str, Any]:
    """min_accuracy, max_accuracy_drop, regression_confidence and split,
    defaults filled in."""
    return dict(
        min_accuracy=configs.MIN_ACCURACY if options['min_accuracy'] is None else options['min_accuracy'],
        max_accuracy_drop=(
            configs.MAX_ACCURACY_DROP if options['max_accuracy_drop'] is None else options['max_accuracy_drop']
        ),
        regression_confidence=(
            configs.REGRESSION_CONFIDENCE
            if options['regression_confidence'] is None
            else options['regression_confidence']
        ),
        split=options['split'] or configs.SPLIT,
    )


def drift_thresholds(given) -> Dict[str, float]:
    """DRIFT_THRESHOLDS with the given --max-drift MEASURE=DISTANCE pairs on top."""
    thresholds = dict(configs.DRIFT_THRESHOLDS)
    for pair in given:
        measure, _, value = pair.partition('=')
        if measure not in thresholds:
            raise UserInputError(f'--max-drift {pair}: no measure {measure!r} (measures: {", ".join(thresholds)})')
        try:
            thresholds[measure] = float(value)
        except ValueError:
            raise UserInputError(f'--max-drift {pair}: {value!r} is not a number') from None
    return thresholds
