"""A warm-started run against the newest cold start on the same window of
spans, from ML Metadata: the Trainer's time and the eval accuracy of each."""

import json
import os
from typing import Optional

from imdb_tfx import outcome, run_info
from imdb_tfx.core import names
from imdb_tfx.run_info import PipelineRun


def _window(run: PipelineRun) -> Optional[str]:
    window = run.output(names.DRIFT_GATE, 'window')
    return window.properties.get('spans') if window else None


def _warm(run: PipelineRun) -> Optional[bool]:
    """Whether the run's Trainer warm-started; None when it did not train."""
    model_run = run.output(names.TRAINER, 'model_run')
    if model_run is None:
        return None
    return os.path.exists(os.path.join(model_run.uri, names.WARM_START_FILE))


def comparison(store, pipeline_name: str, run: PipelineRun) -> Optional[str]:
    """One line for a warm-started run that a cold start on the same window
    preceded; None otherwise."""
    window = _window(run)
    if window is None or not _warm(run):
        return None
    with open(os.path.join(run.output(names.TRAINER, 'model_run').uri, names.WARM_START_FILE)) as f:
        copied = json.load(f)
    warm = outcome.of_run(run)
    line = (
        f'Warm start: from {copied["from"]} ({copied["words_copied"]} of {copied["words"]} words); '
        f'Trainer {run.nodes[names.TRAINER].seconds:.0f} s, eval accuracy '
        f'{warm.metrics.get("binary_accuracy", float("nan")):.4f}'
    )
    for run_id in run_info.run_ids(store, pipeline_name):
        other = run_info.load_run(store, pipeline_name, run_id)
        trainer = other.nodes.get(names.TRAINER)
        if run_id == run.run_id or trainer is None or trainer.state != 'COMPLETE' or _window(other) != window:
            continue
        if _warm(other) is False:
            cold = outcome.of_run(other)
            return (
                f'{line}; the cold start on the same window (spans {window}, run {run_id}): Trainer '
                f'{trainer.seconds:.0f} s, eval accuracy {cold.metrics.get("binary_accuracy", float("nan")):.4f}'
            )
    return f'{line}; no cold start on the same window (spans {window}) to compare with'
