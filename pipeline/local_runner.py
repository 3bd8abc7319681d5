"""Runs create_pipeline(...) with LocalDagRunner: MLMD on SQLite, Beam's
DirectRunner, every output under one home folder; and again after a
transient error (LocalDagRunner itself never retries)."""

import dataclasses
import datetime
import logging
import sys
from typing import Callable, Optional, Sequence, Tuple

from tfx import v1 as tfx
from tfx.dsl.compiler import compiler, constants
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2

from imdb_tfx.core import metadata_store
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.home import Home
from imdb_tfx.pipeline import configs
from imdb_tfx.pipeline.config import Locations, PipelineConfig, SpansConfig
from imdb_tfx.pipeline.pipeline import ALWAYS_RUN, create_pipeline

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A pipeline run id in LocalDagRunner's own format, the start time."""
    return datetime.datetime.now().isoformat()


@dataclasses.dataclass(frozen=True)
class LocalRun:
    """A local run of the pipeline: its home, data and configuration (the
    training's module already resolved, inputs.local_training), the spans
    settings when data_root is a spans folder, and Beam's arguments (None:
    DirectRunner in this process, configs.LOCAL_BEAM_ARGS). from_nodes /
    to_nodes: a partial run (TFX's RunOptions) of the nodes between them, on
    the upstream artifacts of the newest earlier run."""

    home: Home
    data_root: str
    config: PipelineConfig
    spans: Optional[SpansConfig] = None
    beam_pipeline_args: Optional[Sequence[str]] = None
    from_nodes: Sequence[str] = ()
    to_nodes: Sequence[str] = ()

    def pipeline(self) -> tfx.dsl.Pipeline:
        home, config = self.home, self.config
        return create_pipeline(
            Locations(pipeline_root=home.pipeline_root, data_root=self.data_root, serving_dir=home.serving_dir),
            config.data,
            config.training,
            config.gate,
            self.spans,
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(home.metadata_path),
            beam_pipeline_args=list(self.beam_pipeline_args or configs.LOCAL_BEAM_ARGS),
            enable_cache=config.enable_cache,
        )


def run(local: LocalRun, run_id: str) -> None:
    """Runs the pipeline as run RUN_ID (new_run_id(): the caller knows its
    own run in ML Metadata). Raises when a component fails; the run's record
    stays in MLMD."""
    home = local.home
    metadata_store.check(home.metadata_path)
    ir = compile_ir(local.pipeline())
    runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    partial = local.from_nodes or local.to_nodes
    run_options = partial_run_options(ir, local.from_nodes, local.to_nodes) if partial else None
    log.info('Running %s under %s as run %s', configs.PIPELINE_NAME, home.root, run_id)
    # TFX's Beam executors parse sys.argv as absl flags (b/174174381): hide the
    # caller's command line from them (`-v` would be read as --verbosity).
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        tfx.orchestration.LocalDagRunner().run_with_ir(ir, run_options=run_options)
    except LookupError as e:  # a partial run without an earlier run to start from
        raise UserInputError(f'{home.metadata_path}: no earlier run for a partial run to reuse ({e})') from e
    finally:
        sys.argv = argv


def is_transient(error: Exception) -> bool:
    """An I/O error that may not happen again (a flaky disk or network)."""
    import tensorflow as tf

    return isinstance(
        error, (OSError, tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError)
    )


# report(attempt, run_id, error, will_retry) -> whether to go on.
AttemptReport = Callable[[int, str, Optional[Exception], bool], bool]


def run_with_retries(
    run_once: Callable[[str], None], first_run_id: str, retries: int, report: AttemptReport
) -> Tuple[str, Optional[Exception]]:
    """Calls run_once(run_id) until it succeeds, fails for good (an error that
    is not transient) or has been retried `retries` times. Each retry is a new
    run, which reuses what completed from ML Metadata's cache. After each
    attempt, report says what happened and whether to go on (False: stop, as
    on a signal). Returns the last run's id and error (None: it succeeded);
    bad input (UserInputError) is raised at once."""
    run_id = first_run_id
    for attempt in range(retries + 1):
        if attempt:
            run_id = new_run_id()
        error = None
        try:
            run_once(run_id)
        except UserInputError:
            raise
        except Exception as e:  # the component's error is in the log; the caller summarises what ran
            error = e
        will_retry = error is not None and attempt < retries and is_transient(error)
        if not report(attempt, run_id, error, will_retry) or not will_retry:
            break
    return run_id, error


def partial_run_options(ir, from_nodes: Sequence[str], to_nodes: Sequence[str]) -> pipeline_pb2.RunOptions:
    """TFX's partial run of the nodes from FROM_NODES to TO_NODES: the
    nodes upstream of them are not run, their artifacts are those of the
    newest earlier run (snapshotted into this run in ML Metadata)."""
    known = [node.pipeline_node.node_info.id for node in ir.nodes]
    unknown = [n for n in (*from_nodes, *to_nodes) if n not in known]
    if unknown:
        raise UserInputError(f'no node {", ".join(unknown)} in the pipeline (nodes: {", ".join(known)})')
    options = pipeline_pb2.RunOptions()
    options.partial_run.from_nodes.extend(from_nodes)
    options.partial_run.to_nodes.extend(to_nodes)
    options.partial_run.snapshot_settings.latest_pipeline_run_strategy.SetInParent()
    return options


def compile_ir(pipeline: tfx.dsl.Pipeline):
    """The pipeline's IR, with caching off for the ALWAYS_RUN nodes (TFX only
    has a pipeline-wide switch)."""
    ir = compiler.Compiler().compile(pipeline)
    for node in ir.nodes:
        if node.pipeline_node.node_info.id in ALWAYS_RUN:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    return ir
