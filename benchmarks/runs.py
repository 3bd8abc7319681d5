"""The two measured runs the first three parts compare: `imdb-tfx run` with the
seed recipe in a fresh home, and the plain Keras script, on the same data with
the same embedding module and hyperparameters."""

import dataclasses
import json
import os
import sys
from typing import List, Optional, Tuple

import tensorflow as tf

from benchmarks import measure
from imdb_tfx import outcome, run_info
from imdb_tfx.core import names
from imdb_tfx.pipeline import configs

IMDB_TFX = os.path.join(os.path.dirname(sys.executable), 'imdb-tfx')
PLAIN_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'plain_keras.py')
RECIPE = 'seed'


class BenchmarkError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class Setup:
    """What both sides share. The hyperparameters are the seed recipe's unless
    overridden, and both sides get them explicitly."""

    hub: str
    work_dir: str
    epochs: int
    batch_size: int
    learning_rate: float
    hidden_units: int
    split_buckets: Tuple[int, int, int]
    timeout: float = 3600


def _hyperparameter_args(setup: Setup) -> List[str]:
    return [
        '--epochs',
        setup.epochs,
        '--batch-size',
        setup.batch_size,
        '--learning-rate',
        setup.learning_rate,
        '--hidden-units',
        setup.hidden_units,
    ]


def _check(measured: measure.Measured, what: str) -> None:
    if not measured.ok:
        status = 'timed out' if measured.returncode is None else f'exit {measured.returncode}'
        raise BenchmarkError(f'{what} failed ({status}; log {measured.log}):\n{measured.log_tail()}')


def _count(examples_uri: str, split: str) -> int:
    files = tf.io.gfile.glob(os.path.join(examples_uri, f'Split-{split}', '*'))
    return int(tf.data.TFRecordDataset(files, compression_type='GZIP').reduce(0, lambda n, _: n + 1))


def plain(setup: Setup, data: str, name: str) -> dict:
    """The plain script in a fresh process: wall time from start to its last
    output, including TensorFlow's import, as a user would time it."""
    os.makedirs(os.path.join(setup.work_dir, name), exist_ok=True)
    result_file = os.path.join(setup.work_dir, name, 'plain.json')
    measured = measure.run(
        [
            sys.executable,
            PLAIN_SCRIPT,
            '--data',
            data,
            '--hub',
            setup.hub,
            *_hyperparameter_args(setup),
            '--split-buckets',
            *map(str, setup.split_buckets),
            '--output',
            result_file,
        ],
        log=os.path.join(setup.work_dir, name, 'plain.log'),
        timeout=setup.timeout,
    )
    _check(measured, 'the plain script')
    with open(result_file, encoding='utf-8') as f:
        result = json.load(f)
    return dict(
        result,
        seconds=measured.seconds,
        peak_rss_bytes=measured.peak_rss,
        peak_process_rss_bytes=measured.peak_process_rss,
    )


@dataclasses.dataclass
class PipelineResult:
    summary: dict  # what goes into results.json
    home: str
    run: run_info.PipelineRun
    measured: measure.Measured

    def output_uri(self, node_id: str, key: str) -> Optional[str]:
        artifact = self.run.output(node_id, key)
        return artifact.uri if artifact else None


def pipeline(setup: Setup, data: str, name: str) -> PipelineResult:
    """`imdb-tfx run --recipe seed` in a fresh home, every component executed
    (--no-cache), accuracy floor 0 so that every run does the whole work,
    push included. Component times come from ML Metadata; each component's
    peak RSS is the sampled peak of the run's process tree while it ran."""
    home = os.path.join(setup.work_dir, name, 'home')
    measured = measure.run(
        _pipeline_command(setup, data, home),
        log=os.path.join(setup.work_dir, name, 'pipeline.log'),
        timeout=setup.timeout,
    )
    _check(measured, 'imdb-tfx run')
    run = run_info.load_run(run_info.open_store(os.path.join(home, 'metadata.sqlite')), configs.PIPELINE_NAME)
    return PipelineResult(summary=_pipeline_summary(run, measured), home=home, run=run, measured=measured)


def _pipeline_command(setup: Setup, data: str, home: str) -> list:
    return [
        IMDB_TFX,
        'run',
        '--recipe',
        RECIPE,
        '--home',
        home,
        '--data',
        data,
        '--hub',
        setup.hub,
        '--no-cache',
        '--min-accuracy',
        '0',
        *_hyperparameter_args(setup),
    ]


def component_costs(nodes: list, measured: measure.Measured) -> List[dict]:
    """Each component's MLMD time and the process tree's RSS while it ran."""
    return [
        {
            'component': n.node_id,
            'state': n.state,
            'seconds': n.seconds,
            'peak_rss_bytes': measured.peak_between(n.started, n.started + n.seconds),
            'rss_at_start_bytes': measured.peak_between(n.started, n.started),
        }
        for n in nodes
    ]


def _trainer_history(run: run_info.PipelineRun) -> dict:
    """The Trainer's Keras history: its metrics per epoch."""
    history_dir = run.output(names.TRAINER, 'model_run').uri
    with tf.io.gfile.GFile(os.path.join(history_dir, names.HISTORY_FILE)) as f:
        return json.load(f)


def _pipeline_summary(run: run_info.PipelineRun, measured: measure.Measured) -> dict:
    """What results.json keeps of a pipeline run."""
    result = outcome.of_run(run)
    nodes = list(run.nodes.values())
    span = max(n.started + n.seconds for n in nodes) - min(n.started for n in nodes)
    examples = run.output(names.EXAMPLE_GEN, 'examples').uri
    return {
        'seconds': measured.seconds,
        'peak_rss_bytes': measured.peak_rss,
        'peak_process_rss_bytes': measured.peak_process_rss,
        'components': component_costs(nodes, measured),
        # Process start, imports, compiling the pipeline, the summary: before
        # the first component started and after the last one ended.
        'outside_dag_seconds': measured.seconds - span,
        # MLMD bookkeeping, input resolution, drivers: between components.
        'between_components_seconds': span - sum(n.seconds for n in nodes),
        'train_examples': _count(examples, 'train'),
        'eval_examples': _count(examples, 'eval'),
        'eval_accuracy': result.metrics.get('binary_accuracy'),  # TFMA
        'eval_accuracy_keras': _trainer_history(run)['val_accuracy'][-1],  # Trainer's last epoch
        'pushed': result.pushed_path,
    }
