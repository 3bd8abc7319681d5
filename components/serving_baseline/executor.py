"""The Evaluator's executor, told apart from an empty baseline: on the first
push nothing is serving, and the accuracy floor alone decides."""

from typing import Any, Dict, List

from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import standard_component_specs

# Custom property of ServingBaseline's output: 0 when nothing was serving.
HAS_MODEL_KEY = 'has_model'


class Executor(evaluator_executor.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = input_dict.get(key, [])
        if baselines and not all(b.get_int_custom_property(HAS_MODEL_KEY) for b in baselines):
            input_dict = {k: v for k, v in input_dict.items() if k != key}
        super().Do(input_dict, output_dict, exec_properties)
