"""Runs create_pipeline(...) with LocalDagRunner: MLMD on SQLite, Beam's
DirectRunner, every output under one home folder."""

import logging
import sys
from typing import Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.compiler import compiler

from core.home import Home
from modules.hparams import Hyperparameters
from pipeline import configs
from pipeline.pipeline import ALWAYS_RUN, create_pipeline
from pipeline.recipes import EmbeddingSpec

log = logging.getLogger(__name__)


def run(
    home: Home,
    data_root: str,
    hyperparameters: Hyperparameters,
    min_accuracy: float = configs.MIN_ACCURACY,
    max_accuracy_drop: float = configs.MAX_ACCURACY_DROP,
    regression_confidence: float = configs.REGRESSION_CONFIDENCE,
    split: str = configs.SPLIT,
    schema_file: Optional[str] = configs.SCHEMA_FILE,
    embedding: Optional[EmbeddingSpec] = None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    enable_cache: bool = True,
) -> None:
    """Raises when a component fails; the run's record stays in MLMD.
    embedding: the recipe's data-vocabulary module, built in the pipeline from
    the GloVe wheel under the home's downloads."""
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
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(home.metadata_path),
        beam_pipeline_args=list(beam_pipeline_args or configs.LOCAL_BEAM_ARGS),
        enable_cache=enable_cache,
    )
    log.info('Running %s under %s', configs.PIPELINE_NAME, home.root)
    # TFX's Beam executors parse sys.argv as absl flags (b/174174381): hide the
    # caller's command line from them (`-v` would be read as --verbosity).
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        tfx.orchestration.LocalDagRunner().run_with_ir(compile_ir(pipeline))
    finally:
        sys.argv = argv


def compile_ir(pipeline: tfx.dsl.Pipeline):
    """The pipeline's IR, with caching off for the ALWAYS_RUN nodes (TFX only
    has a pipeline-wide switch)."""
    ir = compiler.Compiler().compile(pipeline)
    for node in ir.nodes:
        if node.pipeline_node.node_info.id in ALWAYS_RUN:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    return ir
