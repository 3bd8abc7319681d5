"""Runs create_pipeline(...) with LocalDagRunner: MLMD on SQLite, Beam's
DirectRunner, every output under one home folder."""

import datetime
import logging
import sys
from typing import Dict, Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.compiler import compiler, constants
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2

from imdb_tfx.core import metadata_store
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.home import Home
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline import configs
from imdb_tfx.pipeline.pipeline import ALWAYS_RUN, create_pipeline
from imdb_tfx.pipeline.recipes import EmbeddingSpec

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A pipeline run id in LocalDagRunner's own format, the start time."""
    return datetime.datetime.now().isoformat()


def run(
    home: Home,
    data_root: str,
    hyperparameters: Hyperparameters,
    run_id: str,
    min_accuracy: float = configs.MIN_ACCURACY,
    max_accuracy_drop: float = configs.MAX_ACCURACY_DROP,
    regression_confidence: float = configs.REGRESSION_CONFIDENCE,
    split: str = configs.SPLIT,
    schema_file: Optional[str] = configs.SCHEMA_FILE,
    embedding: Optional[EmbeddingSpec] = None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    enable_cache: bool = True,
    window: Optional[int] = None,
    drift_thresholds: Optional[Dict[str, float]] = None,
    from_nodes: Sequence[str] = (),
    to_nodes: Sequence[str] = (),
) -> None:
    """Runs the pipeline as run RUN_ID (new_run_id(): the caller knows its
    own run in ML Metadata). Raises when a component fails; the run's record
    stays in MLMD. embedding: the recipe's data-vocabulary module, built in
    the pipeline from the GloVe wheel under the home's downloads. window:
    data_root is a spans folder; train on the newest `window` accepted spans.

    from_nodes / to_nodes: a partial run (TFX's RunOptions) of the nodes
    between them, on the upstream artifacts of the newest earlier run."""
    metadata_store.check(home.metadata_path)
    pipeline = create_pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=home.pipeline_root,
        data_root=data_root,
        trainer_module_file=configs.TRAINER_MODULE_FILE,
        serving_dir=home.serving_dir,
        schema_file=schema_file,
        hyperparameters=hyperparameters,
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
        regression_confidence=regression_confidence,
        canary_max_batch_seconds=configs.CANARY_MAX_BATCH_SECONDS,
        split=split,
        split_buckets=configs.SPLIT_BUCKETS,
        use_unlabeled=hyperparameters.self_trains,
        embedding=embedding,
        glove_dir=home.downloads_dir,
        window=window,
        drift_thresholds=dict(drift_thresholds or configs.DRIFT_THRESHOLDS),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(home.metadata_path),
        beam_pipeline_args=list(beam_pipeline_args or configs.LOCAL_BEAM_ARGS),
        enable_cache=enable_cache,
    )
    ir = compile_ir(pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    run_options = partial_run_options(ir, from_nodes, to_nodes) if from_nodes or to_nodes else None
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
