"""Beam's pipeline options for the Beam-based components (ExampleGens,
StatisticsGen, the Evaluator), given on the command line, and what Beam's
workers need from the environment they are started in.

A portable runner (PortableRunner against a job service, FlinkRunner,
SparkRunner) runs the components' Beam work in worker processes that the
runner starts, often on other machines. They unpickle our code and TFX's, so
they need this package and TFX importable by their Python, and Keras 2 for
TensorFlow from the start of the process (the Evaluator loads the SavedModel
through tf.keras; under Keras 3 it cannot). check_workers asks the workers
before the pipeline runs, so a wrong environment is named in one line instead
of failing a component minutes later with an error that does not say why.
"""

import os
import sys
from typing import Dict, List, Optional, Sequence

import click

from imdb_tfx.core.errors import UserInputError

BEAM_ARG = click.option(
    '--beam-arg',
    'beam_args',
    multiple=True,
    metavar='ARG',
    help='A Beam pipeline option for every Beam-based component, e.g. --beam-arg=--runner=PortableRunner '
    '(repeat; replaces the default Beam options). docs/scale-out.md has recipes.',
)

# The environment every Beam worker process must start with.
WORKER_ENVIRONMENT = {'TF_USE_LEGACY_KERAS': '1'}
# Runners whose workers are processes the runner starts (the Beam job API):
# the ones check_workers can ask.
PORTABLE_RUNNERS = ('PortableRunner', 'FlinkRunner', 'SparkRunner')
# Marks the reason in the error text the runner sends back from a worker.
_MARK = 'imdb-tfx worker check: '


def runner_of(beam_args: Sequence[str]) -> str:
    """The --runner the args name (the last one wins, as in Beam), DirectRunner by default."""
    runner = 'DirectRunner'
    for index, arg in enumerate(beam_args):
        if arg.startswith('--runner='):
            runner = arg.split('=', 1)[1]
        elif arg == '--runner' and index + 1 < len(beam_args):
            runner = beam_args[index + 1]
    return runner.rsplit('.', 1)[-1]


def worker_problems(facts: Dict[str, Optional[str]], expected: Dict[str, Optional[str]]) -> List[str]:
    """What is wrong with a worker's environment (FACTS) for a launcher with EXPECTED."""
    problems = [
        f'{name} is {facts.get(name)!r}, must be {value!r} from its start'
        for name, value in WORKER_ENVIRONMENT.items()
        if facts.get(name) != value
    ]
    for package in ('imdb_tfx', 'tfx', 'apache_beam'):
        if facts.get(package) != expected[package]:
            found = facts.get(package) or 'not importable'
            problems.append(f'{package} there is {found}, here {expected[package]}')
    return problems


def environment_facts() -> Dict[str, Optional[str]]:
    """This process's side of the check: its Python and the versions it runs."""
    return {'python': sys.executable, **_package_versions(), **_initial_environment()}


def _initial_environment() -> Dict[str, Optional[str]]:
    """WORKER_ENVIRONMENT's variables as the process started with them:
    imdb_tfx sets a default on import, which would hide a missing one."""
    try:
        with open('/proc/self/environ', 'rb') as f:
            pairs = dict(item.split(b'=', 1) for item in f.read().split(b'\0') if b'=' in item)
        return {name: pairs.get(name.encode(), b'').decode() or None for name in WORKER_ENVIRONMENT}
    except OSError:  # not Linux: the current environment
        return {name: os.environ.get(name) for name in WORKER_ENVIRONMENT}


def _package_versions() -> Dict[str, Optional[str]]:
    from importlib import metadata

    versions = {}
    for package, distribution in (('imdb_tfx', 'imdb-tfx'), ('tfx', 'tfx'), ('apache_beam', 'apache-beam')):
        try:
            versions[package] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _check_on_worker(_, expected):
    """Runs on a worker: raises with the marked reason when its environment is wrong."""
    facts = environment_facts()
    problems = worker_problems(facts, expected)
    if problems:
        raise RuntimeError(f'{_MARK}the worker (python {facts["python"]}): {"; ".join(problems)}')
    return facts


def check_workers(beam_args: Sequence[str]) -> None:
    """Runs a one-element Beam job with BEAM_ARGS whose worker checks its own
    environment against this process's; a UserInputError names what is
    wrong. For PORTABLE_RUNNERS: DirectRunner's workers are this process or
    its children, and other runners' (Dataflow) bring their own container."""
    if runner_of(beam_args) not in PORTABLE_RUNNERS:
        return
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    expected = environment_facts()
    try:
        with beam.Pipeline(options=PipelineOptions(list(beam_args))) as pipeline:
            _ = pipeline | beam.Create([None]) | beam.Map(_check_on_worker, expected)
    except Exception as exc:  # noqa: BLE001  (the runner's error text is all there is)
        raise UserInputError(f'Beam workers ({" ".join(beam_args)}): {_reason(str(exc))}') from exc


def _reason(text: str) -> str:
    """One line of why the check job failed."""
    for line in text.splitlines():
        if _MARK in line:
            return line.split(_MARK, 1)[1].strip()
    if "No such file or directory: 'python'" in text:
        return "the worker pool has no `python` on its PATH to start workers with (it must be the project's)"
    if 'DEADLINE_EXCEEDED' in text or 'Deadline Exceeded' in text:
        return (
            'no worker answered in time: is the worker pool running, and does its `python` have this '
            'project installed (the first python on its PATH)?'
        )
    if 'UNAVAILABLE' in text or 'failed to connect' in text.lower():
        return 'the job service or the worker pool does not answer at the given address'
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else 'the check job failed'
