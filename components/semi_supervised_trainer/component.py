"""TFX's Trainer with one more, optional input channel: unlabeled examples,
for a module that learns from reviews without labels (self-training)."""

from typing import Any, Dict, Optional, Union

from tfx import types
from tfx.components.util import udf_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils

from components.semi_supervised_trainer import executor


class SemiSupervisedTrainerSpec(standard_component_specs.TrainerSpec):
    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        executor.UNLABELED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples,
                                                          optional=True),
    }


class SemiSupervisedTrainer(base_component.BaseComponent):
    """Trainer (GenericExecutor, `run_fn` in module_file) whose module also
    gets the unlabeled examples' files, in
    `fn_args.custom_config[executor.UNLABELED_FILES_KEY]`. The unlabeled
    Examples are an input artifact, so lineage and caching see them."""

    SPEC_CLASS = SemiSupervisedTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self,
                 examples: types.BaseChannel,
                 module_file: str,
                 unlabeled_examples: Optional[types.BaseChannel] = None,
                 schema: Optional[types.BaseChannel] = None,
                 custom_config: Optional[Union[Dict[str, Any], data_types.RuntimeParameter]] = None):
        spec = SemiSupervisedTrainerSpec(
            examples=examples,
            unlabeled_examples=unlabeled_examples,
            schema=schema,
            train_args=trainer_pb2.TrainArgs(),
            eval_args=trainer_pb2.EvalArgs(),
            module_file=module_file,
            custom_config=(custom_config if isinstance(custom_config, data_types.RuntimeParameter)
                           else json_utils.dumps(custom_config)),
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun))
        super().__init__(spec=spec)
        if udf_utils.should_package_user_modules():  # as TFX's Trainer does
            udf_utils.add_user_module_dependency(
                self, standard_component_specs.MODULE_FILE_KEY, standard_component_specs.MODULE_PATH_KEY)
