"""The Evaluator's executor, told apart from an empty baseline: on the first
push nothing is serving, and the accuracy floor alone decides."""

from typing import Any, Dict, List

from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import standard_component_specs

from imdb_tfx.core.names import HAS_MODEL


def without_empty_baseline(input_dict: Dict[str, List[types.Artifact]]) -> Dict[str, List[types.Artifact]]:
    """The inputs without the baseline model when ServingBaseline found nothing
    serving (has_model=0): TFMA then evaluates the candidate alone."""
    key = standard_component_specs.BASELINE_MODEL_KEY
    baselines = input_dict.get(key, [])
    if baselines and not all(b.get_int_custom_property(HAS_MODEL) for b in baselines):
        return {k: v for k, v in input_dict.items() if k != key}
    return input_dict


class Executor(evaluator_executor.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        super().Do(without_empty_baseline(input_dict), output_dict, exec_properties)
