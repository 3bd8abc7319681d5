"""The model now serving as the Evaluator's baseline, without a Resolver
(Resolver nodes only run on Vertex AI, not on open-source Kubeflow Pipelines).

ServingBaseline reads external state, the serving directory, so runners must
not cache it (see pipeline.ALWAYS_RUN)."""

import logging
import os

from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from imdb_tfx.core import names, serving


@component
def ServingBaseline(
    serving_dir: Parameter[str],
    baseline: OutputArtifact[standard_artifacts.Model],
) -> None:
    """A copy of the newest version under serving_dir (Trainer's layout), or
    an artifact marked has_model=0 when nothing is serving yet, or when the
    newest version is not a model of this pipeline (`problems` says why)."""
    newest = serving.newest(serving_dir)
    problem = serving.model_problem(newest) if newest else None
    if problem:
        # Not comparable, and never the model a candidate is judged against:
        # the floor alone decides, and the gate names the problem.
        logging.warning('%s: %s; not used as the baseline', newest, problem)
        baseline.set_string_custom_property(names.PROBLEMS, f'{newest}: {problem}')
        newest = None
    baseline.set_int_custom_property(names.HAS_MODEL, int(newest is not None))
    if newest is not None:
        baseline.set_string_custom_property(names.SERVING_PATH, newest)
        io_utils.copy_dir(newest, os.path.join(baseline.uri, 'Format-Serving'))
