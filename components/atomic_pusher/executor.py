"""Pusher executor for a serving directory, local or on object storage: a
version lands whole or not at all (core.serving.publish), and a model
already serving is not pushed again."""

import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from imdb_tfx.core import names, serving


class Executor(pusher_executor.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed_model)
            return
        model_dir = self.GetModelPath(input_dict)
        serving_dir = _serving_dir(exec_properties)

        newest = serving.newest(serving_dir)
        already_serving = newest is not None and serving.same_model(model_dir, newest)
        destination = newest if already_serving else serving.publish(model_dir, serving_dir)
        logging.info('%s %s', 'Already serving as' if already_serving else 'Pushed to', destination)
        # The model stays in the Trainer's output; no archive copy in pushed_model.uri.
        self._MarkPushed(pushed_model, pushed_destination=destination, pushed_version=os.path.basename(destination))
        pushed_model.set_int_custom_property(names.ALREADY_SERVING, int(already_serving))


def _serving_dir(exec_properties: Dict[str, Any]) -> str:
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    if destination.WhichOneof('destination') != 'filesystem':
        raise ValueError('AtomicPusher pushes to a filesystem destination only')
    return destination.filesystem.base_directory
