"""Defaults of every pipeline knob, in one place; runners override them."""

import os

from imdb_tfx import modules

PIPELINE_NAME = 'imdb-sentiment'

# Release gate: absolute accuracy floor on the eval split; and the candidate is
# rejected when it is worse than the model now serving by more than
# MAX_ACCURACY_DROP with REGRESSION_CONFIDENCE (the exact interval of the
# paired difference on the same eval reviews, modules/paired_accuracy.py), so
# that a retrain that differs by noise is not rejected by chance.
MIN_ACCURACY = 0.85
MAX_ACCURACY_DROP = 0.0
REGRESSION_CONFIDENCE = 0.95
# More floors for the blessing, on the overall slice, by TFMA metric class
# name (for example {'AUC': 0.95}); `--min-metric NAME=VALUE` adds to them.
METRIC_FLOORS = {}
# The serving canary's latency bound for one batch of reviews.
CANARY_MAX_BATCH_SECONDS = 2.0

# How ImportExampleGen makes the train/valid/eval splits of the prepared data.
SPLIT_RANDOM = 'random'  # by hash of the example, like the tutorial
SPLIT_MOVIE = 'movie'  # by hash of movie_id: no movie on both sides
SPLIT_SOURCE = 'source'  # the source's own train/ and test/ folders
SPLITS = (SPLIT_RANDOM, SPLIT_MOVIE, SPLIT_SOURCE)

# No movie on two splits: a random split flatters eval accuracy.
SPLIT = SPLIT_MOVIE

# Hash buckets of train, valid and eval: 70/10/20. eval is what the gate's
# figure stands on, so it is the largest held-out part: on IMDB's 25,000
# labelled reviews its 95% interval is under a point wide on either side
# (docs/release-gating.md). valid only picks epochs and self-training's
# choices, and the exported model is refitted on train + valid
# (Hyperparameters.refit), so training sees 80%.
SPLIT_BUCKETS = (7, 1, 2)

# Continuous training (data in spans, imdb_tfx/spans.py): the Trainer reads
# the newest SPAN_WINDOW accepted spans. DriftGate stops a span that drifted
# from the newest accepted one by more than these distances
# (components/drift_gate/profile.py). They leave room above the natural
# drift between spans of real reviews cut by movie in title-id order (older
# films are reviewed more kindly), which docs/continuous-training.md
# measures; a span of only 1- and 10-star reviews crosses the rating one.
SPAN_WINDOW = 3
DRIFT_THRESHOLDS = {
    'label_balance': 0.15,
    'rating': 0.2,
    'review_length': 0.3,
    'oov_rate': 0.02,
    'top_tokens': 0.02,
}

# `imdb-tfx run` runs again this many times after a transient I/O error in a
# component (LocalDagRunner does not retry: TFX's NodeExecutionOptions
# max_execution_retries is read only by its experimental orchestrator). The
# rerun reuses what completed from ML Metadata's cache.
LOCAL_RETRIES = 1

# Beam DirectRunner for local runs, in one process: the mode
# benchmarks/results.md (Beam modes) finds fastest with the least memory;
# multi_processing can also hang TFDV (data-validation#133).
# cloudpickle: dill's pickler sets a logger's level on every pickle, which
# clears the cache of every logger of the process each time, and slows the
# Beam components down for the same statistics and model.
DIRECT_RUNNER_ARGS = [
    '--direct_running_mode=in_memory',
    '--direct_num_workers=1',
    '--pickle_library=cloudpickle',
]
# Where Beam workers get this project's code and, through its requirements,
# TFX. DirectRunner ignores it, but without such a flag each of TFX's Beam
# executors assumes a remote runner and packages TFX into an sdist in the
# temp folder on every component run, and never deletes it.
SETUP_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'setup.py')
LOCAL_DEPENDENCY_ARGS = [f'--setup_file={SETUP_FILE}']
LOCAL_BEAM_ARGS = DIRECT_RUNNER_ARGS + LOCAL_DEPENDENCY_ARGS

# The curated schema (ImportSchemaGen); None infers one with SchemaGen.
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'schema', 'schema.pbtxt')

# The Trainer's run_fn: by file for local runs (its content keys the cache), by
# import path where the modules are installed (the Kubeflow image).
TRAINER_RUN_FN = 'imdb_tfx.modules.trainer.run_fn'
TRAINER_MODULE_FILE = os.path.join(os.path.dirname(modules.__file__), 'trainer.py')
