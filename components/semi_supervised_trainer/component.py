"""TFX's Trainer with one more, optional input channel: unlabeled examples,
for a module that learns from reviews without labels (self-training)."""

from typing import Any, Dict, Optional, Sequence, Union

from tfx import types
from tfx.components.util import udf_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils

from imdb_tfx.components.embedding_builder.component import TextEmbeddingModule
from imdb_tfx.components.semi_supervised_trainer import executor


class SemiSupervisedTrainerSpec(standard_component_specs.TrainerSpec):
    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        executor.UNLABELED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
        executor.EMBEDDING_KEY: ChannelParameter(type=TextEmbeddingModule, optional=True),
    }


class SemiSupervisedTrainer(base_component.BaseComponent):
    """Trainer (GenericExecutor) whose `run_fn` also gets the unlabeled
    examples' files, in `fn_args.custom_config[core.names.UNLABELED_FILES_KEY]`.
    The unlabeled Examples are an input artifact, so lineage and caching see
    them. With an `embedding` (EmbeddingBuilder's module), its URI replaces
    the hyperparameters' hub_handle.

    The run_fn comes, as in TFX's Trainer, from module_file (a file whose
    content TFX fingerprints for caching, and packages into a wheel for
    remote runners) or from run_fn, an import path such as
    'imdb_tfx.modules.trainer.run_fn' (a module already installed where it runs)."""

    SPEC_CLASS = SemiSupervisedTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        module_file: Optional[str] = None,
        run_fn: Optional[str] = None,
        unlabeled_examples: Optional[types.BaseChannel] = None,
        embedding: Optional[types.BaseChannel] = None,
        schema: Optional[types.BaseChannel] = None,
        base_model: Optional[types.BaseChannel] = None,
        train_splits: Sequence[str] = ('train',),
        valid_splits: Sequence[str] = ('eval',),
        custom_config: Optional[Union[Dict[str, Any], data_types.RuntimeParameter]] = None,
    ):
        if bool(module_file) == bool(run_fn):
            raise ValueError('give exactly one of module_file and run_fn')
        spec = SemiSupervisedTrainerSpec(
            examples=examples,
            unlabeled_examples=unlabeled_examples,
            embedding=embedding,
            schema=schema,
            base_model=base_model,  # fn_args.base_model: a warm start's weights
            # fn_args.train_files and eval_files: what the module fits on, and what it chooses on.
            train_args=trainer_pb2.TrainArgs(splits=list(train_splits)),
            eval_args=trainer_pb2.EvalArgs(splits=list(valid_splits)),
            module_file=module_file,
            run_fn=run_fn,
            custom_config=(
                custom_config
                if isinstance(custom_config, data_types.RuntimeParameter)
                else json_utils.dumps(custom_config)
            ),
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
        )
        super().__init__(spec=spec)
        if module_file and udf_utils.should_package_user_modules():  # as TFX's Trainer does
            udf_utils.add_user_module_dependency(
                self, standard_component_specs.MODULE_FILE_KEY, standard_component_specs.MODULE_PATH_KEY
            )
