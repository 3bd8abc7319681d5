"""EvaluatorVsServing: TFX's Evaluator judged against the model now serving
(ServingBaseline's output), and by the value thresholds alone when nothing
is serving yet."""

from tfx.components import Evaluator
from tfx.dsl.components.base import executor_spec

from imdb_tfx.components.evaluator_vs_serving import executor


class EvaluatorVsServing(Evaluator):
    """TFX's Evaluator that evaluates without a baseline when the
    ServingBaseline found nothing serving."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
