"""Trainer's GenericExecutor that also hands the module the unlabeled examples."""

from typing import Any, Dict, List

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.components.trainer import fn_args_utils
from tfx.types import artifact_utils
from tfx.utils import io_utils

UNLABELED_EXAMPLES_KEY = 'unlabeled_examples'
# Where run_fn finds the unlabeled files: fn_args.custom_config[UNLABELED_FILES_KEY],
# a list of file patterns, one per split of the unlabeled Examples artifact.
UNLABELED_FILES_KEY = 'unlabeled_files'


def unlabeled_file_patterns(artifacts: List[types.Artifact]) -> List[str]:
    """Every split of every unlabeled Examples artifact, as file patterns."""
    return [io_utils.all_files_pattern(artifact_utils.get_split_uri([artifact], split))
            for artifact in artifacts
            for split in artifact_utils.decode_split_names(artifact.split_names)]


class Executor(trainer_executor.GenericExecutor):

    def _GetFnArgs(self, input_dict: Dict[str, List[types.Artifact]],
                   output_dict: Dict[str, List[types.Artifact]],
                   exec_properties: Dict[str, Any]) -> fn_args_utils.FnArgs:
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        unlabeled = input_dict.get(UNLABELED_EXAMPLES_KEY)
        if unlabeled:
            fn_args.custom_config = {**(fn_args.custom_config or {}),
                                     UNLABELED_FILES_KEY: unlabeled_file_patterns(unlabeled)}
        return fn_args
