"""Trainer's GenericExecutor that also hands the module the unlabeled examples
and the pipeline-built embedding module."""

from typing import Any, Dict, List

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.components.trainer import fn_args_utils
from tfx.types import artifact_utils
from tfx.utils import io_utils

from imdb_tfx.core import memory
from imdb_tfx.core.names import UNLABELED, UNLABELED_FILES_KEY

UNLABELED_EXAMPLES_KEY = 'unlabeled_examples'
# An optional TextEmbeddingModule (EmbeddingBuilder's): its URI becomes the
# hyperparameters' hub_handle.
EMBEDDING_KEY = 'embedding'
HUB_HANDLE_KEY = 'hub_handle'


def unlabeled_file_patterns(artifacts: List[types.Artifact]) -> List[str]:
    """The unlabeled split of every Examples artifact (UnlabeledExampleGen's,
    or accepted spans, which carry it beside their labelled splits)."""
    return [
        io_utils.all_files_pattern(artifact_utils.get_split_uri([artifact], UNLABELED))
        for artifact in artifacts
        if UNLABELED in artifact_utils.decode_split_names(artifact.split_names)
    ]


class Executor(trainer_executor.GenericExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        # The Trainer holds the most of any component: under LocalDagRunner it
        # should not start on top of what the components before it freed, nor
        # leave its own freed memory to the Evaluator.
        memory.return_freed_memory('before the Trainer')
        try:
            super().Do(input_dict, output_dict, exec_properties)
        finally:
            memory.return_freed_memory('after the Trainer')

    def _GetFnArgs(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> fn_args_utils.FnArgs:
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        config = dict(fn_args.custom_config or {})
        unlabeled = input_dict.get(UNLABELED_EXAMPLES_KEY)
        if unlabeled:
            config[UNLABELED_FILES_KEY] = unlabeled_file_patterns(unlabeled)
        embedding = input_dict.get(EMBEDDING_KEY)
        if embedding:
            config[HUB_HANDLE_KEY] = artifact_utils.get_single_uri(embedding)
        fn_args.custom_config = config
        return fn_args
