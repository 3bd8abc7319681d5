"""Defaults of every pipeline knob, in one place; runners override them."""

import os

import modules

PIPELINE_NAME = 'imdb-sentiment'

# Release gate: absolute accuracy floor on the eval split, and how much the
# candidate may fall below the model now serving (0: no regression at all).
MIN_ACCURACY = 0.85
MAX_ACCURACY_DROP = 0.0

# How ImportExampleGen makes the train/eval splits of the prepared data.
SPLIT_RANDOM = 'random'  # by hash of the example, like the tutorial
SPLIT_MOVIE = 'movie'  # by hash of movie_id: no movie on both sides
SPLIT_SOURCE = 'source'  # the source's own train/ and test/ folders
SPLITS = (SPLIT_RANDOM, SPLIT_MOVIE, SPLIT_SOURCE)

# No movie on both sides of the split: a random split flatters eval accuracy.
SPLIT = SPLIT_MOVIE

# Beam DirectRunner for local runs, chosen by benchmarks/results.md (part 5):
# in_memory is the fastest for StatisticsGen and within noise of
# multi_threading for the Evaluator, with the least memory; multi_processing
# is the slowest and largest here (and can hang TFDV: data-validation#133).
LOCAL_BEAM_ARGS = [
    '--direct_running_mode=in_memory',
    '--direct_num_workers=1',
]

# The curated schema (ImportSchemaGen); None infers one with SchemaGen.
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'schema', 'schema.pbtxt')

# The Trainer's run_fn: by file for local runs (its content keys the cache), by
# import path where the modules are installed (the Kubeflow image).
TRAINER_RUN_FN = 'modules.trainer.run_fn'
TRAINER_MODULE_FILE = os.path.join(os.path.dirname(modules.__file__), 'trainer.py')
