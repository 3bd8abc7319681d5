"""`imdb-tfx compile-kfp` and `imdb-tfx submit`, for the main command group:
cli.add_command(compile_kfp_command); cli.add_command(submit_command).
TFX and kfp are imported when a command runs, not when the CLI starts."""

import os
import tempfile

import click

from imdb_tfx.core import console
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.kubeflow import locations
from imdb_tfx.kubeflow.image import DEFAULT_TAG, IMAGE_ROOT, SCHEMA_FILE
from imdb_tfx.kubeflow.s3_settings import S3Settings
from imdb_tfx.pipeline import beam
from imdb_tfx.pipeline import options as pipeline_options
from imdb_tfx.pipeline.config import Locations

_COMPILE_OPTIONS = [
    click.option(
        '--image',
        default=DEFAULT_TAG,
        show_default=True,
        help='The pipeline image (kubeflow/Dockerfile) as the cluster pulls it.',
    ),
    click.option(
        '--pipeline-root',
        required=True,
        help='Where the tasks write artifacts: gs://BUCKET/PATH or s3://BUCKET/PATH (AWS S3, '
        'MinIO); an absolute local path only for `imdb-tfx kfp-local`.',
    ),
    click.option(
        '--data',
        required=True,
        help='Prepared TFRecords (prepare-data; with --window a spans folder) as the pods see them: gs://, '
        's3:// or a path on a --volume. Default of the run-time parameter data-root.',
    ),
    click.option(
        '--serving-dir', required=True, help='The serving directory: gs://, s3:// or an absolute path on a --volume.'
    ),
    click.option(
        '--s3-endpoint',
        metavar='URL',
        help='The S3 API of s3:// locations, e.g. http://minio-service.kubeflow:9000 '
        "(open-source KFP's MinIO). Default: AWS S3.",
    ),
    click.option('--s3-region', default=S3Settings.region, show_default=True),
    click.option(
        '--s3-secret',
        default=S3Settings.secret,
        show_default=True,
        metavar='NAME[:ACCESS_KEY_KEY:SECRET_KEY_KEY]',
        help='The Kubernetes secret whose keys become AWS_ACCESS_KEY_ID and '
        f'AWS_SECRET_ACCESS_KEY in every task [keys {S3Settings.access_key_key}, '
        f"{S3Settings.secret_key_key}, as KFP's MinIO secret].",
    ),
    beam.BEAM_ARG,
    click.option(
        '--volume',
        'volumes',
        multiple=True,
        metavar='CLAIM:PATH',
        help='Mount a PersistentVolumeClaim at PATH in every task (repeat).',
    ),
]


def _compile_options(command):
    command = pipeline_options.pipeline_options(command)
    for option in reversed(_COMPILE_OPTIONS):
        command = option(command)
    return command


def _volumes(values) -> dict:
    """{claim: mount path} from CLAIM:PATH values."""
    pairs = [value.split(':', 1) for value in values]
    if not all(len(p) == 2 and p[0] and os.path.isabs(p[1]) for p in pairs) or len(
        {claim for claim, _ in pairs}
    ) != len(pairs):
        raise UserInputError(f'--volume {" ".join(values)}: give CLAIM:/absolute/path, each claim once')
    return dict(pairs)


def _compile(
    output, image, pipeline_root, data, serving_dir, s3_endpoint, s3_region, s3_secret, beam_args, volumes, **options
) -> str:
    # Bad options and locations fail in a second, before TFX's imports.
    config = pipeline_options.from_options(options, schema_file=SCHEMA_FILE)
    locations.check(pipeline_root, data, serving_dir, config.hub, None)
    if options['max_drift'] and not options['window']:
        raise UserInputError('--max-drift: only with --window (a pipeline over spans)')
    from imdb_tfx.kubeflow import runner

    return runner.compile_pipeline(
        output,
        image,
        Locations(pipeline_root=pipeline_root, data_root=data, serving_dir=serving_dir),
        config,
        volumes=_volumes(volumes),
        s3_settings=S3Settings(endpoint=s3_endpoint, region=s3_region, **S3Settings.parse_secret(s3_secret)),
        beam_pipeline_args=beam_args,
    )


@click.command('compile-kfp')
@click.option(
    '--output', required=True, type=click.Path(dir_okay=False), help='The package to write: a PipelineSpec .yaml file.'
)
@_compile_options
def compile_kfp_command(output, **options):
    """Compile the pipeline for Kubeflow Pipelines 2.x (KubeflowV2DagRunner).

    Upload the package in the KFP UI, or run it with `imdb-tfx submit`. The
    data location, the hyperparameters and the canary's latency bound stay
    run-time parameters with these values as defaults.
    """
    click.echo(_compile(output, **options))


@click.command('submit')
@click.option(
    '--host',
    required=True,
    envvar='KF_PIPELINES_ENDPOINT',
    help='The KFP API endpoint, e.g. http://localhost:8080 [$KF_PIPELINES_ENDPOINT].',
)
@click.option('--experiment', help="Experiment of the run, created when missing [KFP's Default].")
@click.option('--wait', is_flag=True, help='Follow the run to its end; exit 1 unless it succeeded.')
@_compile_options
def submit_command(host, experiment, wait, **options):
    """Compile the pipeline, send it to Kubeflow Pipelines and start a run."""
    from imdb_tfx.kubeflow import submit

    with tempfile.TemporaryDirectory() as scratch:
        package = _compile(os.path.join(scratch, 'pipeline.yaml'), **options)
        try:
            run_id = submit.submit(package, host, experiment=experiment, wait=wait)
        except (submit.RunFailedError, TimeoutError) as e:
            raise click.ClickException(str(e)) from e
    click.echo(f'Run {run_id} {"succeeded" if wait else "started"}')


def _pairs(values, option: str) -> dict:
    """{NAME: VALUE} from NAME=VALUE values."""
    pairs = [value.split('=', 1) for value in values]
    if not all(len(p) == 2 and p[0] for p in pairs):
        raise UserInputError(f'{option}: give NAME=VALUE')
    return dict(pairs)


@click.command('kfp-local')
@click.argument('package', type=click.Path(dir_okay=False))
@click.option(
    '--param',
    'params',
    multiple=True,
    metavar='NAME=VALUE',
    help='A run-time parameter of the package (repeat); the others take its defaults.',
)
@click.option(
    '--env',
    'env',
    multiple=True,
    metavar='NAME=VALUE',
    help="An environment variable for every task, over the package's (repeat), e.g. S3_ENDPOINT of a port-forward.",
)
@click.option(
    '--mount',
    'mounts',
    multiple=True,
    metavar='IMAGE_PATH=LOCAL_PATH',
    help='A local folder standing in for a path of the image or of a --volume (repeat), e.g. '
    f'{IMAGE_ROOT}=build/image-files (see `python -m imdb_tfx.kubeflow.image_files`).',
)
@click.option(
    '--work-dir',
    default='kfp-local',
    show_default=True,
    type=click.Path(file_okay=False),
    help="Each task's executor input, output metadata and log, and the cache.",
)
@click.option('--no-cache', is_flag=True, help='Run every task, even where the package caches.')
def kfp_local_command(package, params, env, mounts, work_dir, no_cache):
    """Run a compiled PACKAGE.yaml here, task by task, as Kubeflow Pipelines would.

    Each task runs its container's command with this environment's Python in
    place of the image's. Exit 0 when every task succeeded, 1 when one failed
    (its log's tail is printed), 2 on bad input.
    """
    import sys
    import time

    log = os.path.join(work_dir, 'logs', console.log_file_name(time.time(), 'kfp-local'))
    with console.libraries_to_log(log):
        from imdb_tfx.kubeflow import local_run

        run_id, results = local_run.run_package(
            package,
            _pairs(params, '--param'),
            work_dir,
            env=_pairs(env, '--env'),
            mounts={k: os.path.abspath(v) for k, v in _pairs(mounts, '--mount').items()},
            use_cache=not no_cache,
            echo=console.echo,
        )
    total = sum(r.seconds for r in results)
    if results[-1].state == 'FAILED':
        console.echo(f'Run {run_id} FAILED at {results[-1].task} after {total:.0f} s')
        sys.exit(1)
    console.echo(f'Run {run_id} succeeded in {total:.0f} s')
