"""`imdb-tfx compile-kfp` and `imdb-tfx submit`, for the main command group:
cli.add_command(compile_kfp_command); cli.add_command(submit_command).
TFX and kfp are imported when a command runs, not when the CLI starts."""

import os
import tempfile

import click

from imdb_tfx.errors import UserInputError
from kubeflow.image import DEFAULT_TAG, SCHEMA_FILE
from pipeline import recipes

_COMPILE_OPTIONS = [
    click.option('--image', default=DEFAULT_TAG, show_default=True,
                 help='The pipeline image (kubeflow/Dockerfile) as the cluster pulls it.'),
    click.option('--pipeline-root', required=True,
                 help='Where the tasks write artifacts, e.g. gs://BUCKET/imdb-tfx (see kubeflow/README.md). '
                 'The Trainer module\'s wheel is written there when compiling.'),
    click.option('--data', required=True,
                 help='Prepared TFRecords (prepare-data) as the pods see them: a URL or a path on a --volume. '
                 'Default of the run-time parameter data-root.'),
    click.option('--serving-dir', required=True,
                 help='The serving directory: an absolute path on a --volume.'),
    click.option('--hub', help='TF-Hub handle: a tfhub.dev/Kaggle URL or a module path inside the image. '
                 'Default: the recipe\'s GloVe module baked into the image.'),
    click.option('--recipe', default=recipes.DEFAULT_RECIPE, show_default=True,
                 type=click.Choice(list(recipes.RECIPES)), help='Training preset (pipeline/recipes.py).'),
    click.option('--epochs', type=click.IntRange(min=1)),
    click.option('--batch-size', type=click.IntRange(min=1)),
    click.option('--learning-rate', type=click.FloatRange(min=0, min_open=True)),
    click.option('--hidden-units', type=click.IntRange(min=1)),
    click.option('--min-accuracy', type=click.FloatRange(0, 1), help='Accuracy floor for the blessing [0.85].'),
    click.option('--max-accuracy-drop', type=click.FloatRange(0, 1),
                 help='How far below the serving model\'s accuracy a candidate may fall [0].'),
    click.option('--split', type=click.Choice(['random', 'movie', 'source']),
                 help='Train/eval split [movie]; the recipe sets the ratio.'),
    click.option('--infer-schema', is_flag=True,
                 help='Infer the schema with SchemaGen instead of importing the curated one.'),
    click.option('--beam-arg', 'beam_args', multiple=True, metavar='ARG',
                 help='A Beam pipeline option for every Beam-based component, e.g. '
                 '--beam-arg=--runner=DataflowRunner (repeat; replaces the DirectRunner defaults).'),
    click.option('--volume', 'volumes', multiple=True, metavar='CLAIM:PATH',
                 help='Mount a PersistentVolumeClaim at PATH in every task (repeat).'),
    click.option('--no-cache', is_flag=True, help='Re-execute every component.'),
]


def _compile_options(command):
    for option in reversed(_COMPILE_OPTIONS):
        command = option(command)
    return command


def _volumes(values) -> dict:
    """{claim: mount path} from CLAIM:PATH values."""
    pairs = [value.split(':', 1) for value in values]
    if not all(len(p) == 2 and p[0] and os.path.isabs(p[1]) for p in pairs) or \
            len({claim for claim, _ in pairs}) != len(pairs):
        raise UserInputError(f'--volume {" ".join(values)}: give CLAIM:/absolute/path, each claim once')
    return dict(pairs)


def _compile(output, image, pipeline_root, data, serving_dir, hub, recipe, epochs, batch_size,
             learning_rate, hidden_units, min_accuracy, max_accuracy_drop, split, infer_schema,
             beam_args, volumes, no_cache) -> str:
    from kubeflow import runner
    hyperparameters = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                           hidden_units=hidden_units)
    given = dict(min_accuracy=min_accuracy, max_accuracy_drop=max_accuracy_drop, split=split)
    return runner.compile_pipeline(
        output, image, pipeline_root, data, serving_dir, hub_handle=hub, recipe=recipe,
        hyperparameters={k: v for k, v in hyperparameters.items() if v is not None},
        schema_file=None if infer_schema else SCHEMA_FILE,
        beam_pipeline_args=beam_args, volumes=_volumes(volumes), enable_cache=not no_cache,
        **{k: v for k, v in given.items() if v is not None})


@click.command('compile-kfp')
@click.option('--output', required=True, type=click.Path(dir_okay=False),
              help='The package to write: a PipelineSpec .yaml file.')
@_compile_options
def compile_kfp_command(output, **options):
    """Compile the pipeline for Kubeflow Pipelines 2.x (KubeflowV2DagRunner).

    Upload the package in the KFP UI, or run it with `imdb-tfx submit`. The
    data location, the hyperparameters and the canary's latency bound stay
    run-time parameters with these values as defaults.
    """
    click.echo(_compile(output, **options))


@click.command('submit')
@click.option('--host', required=True, envvar='KF_PIPELINES_ENDPOINT',
              help='The KFP API endpoint, e.g. http://localhost:8080 [$KF_PIPELINES_ENDPOINT].')
@click.option('--experiment', help='Experiment of the run, created when missing [KFP\'s Default].')
@click.option('--wait', is_flag=True, help='Follow the run to its end; exit 1 unless it succeeded.')
@_compile_options
def submit_command(host, experiment, wait, **options):
    """Compile the pipeline, send it to Kubeflow Pipelines and start a run."""
    from kubeflow import submit
    with tempfile.TemporaryDirectory() as scratch:
        package = _compile(os.path.join(scratch, 'pipeline.yaml'), **options)
        try:
            run_id = submit.submit(package, host, experiment=experiment, wait=wait)
        except (submit.RunFailedError, TimeoutError) as e:
            raise click.ClickException(str(e))
    click.echo(f'Run {run_id} {"succeeded" if wait else "started"}')
