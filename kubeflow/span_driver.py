"""ExampleGen's span resolution on open-source Kubeflow Pipelines.

TFX resolves `{SPAN}` in a file-based ExampleGen's input patterns in a driver
(tfx.orchestration.kubeflow.v2.file_based_example_gen.driver) that Vertex AI
runs as the task's lifecycle hook; open-source KFP runs no such hook. The
entrypoint runs that same driver inside the task, before the executor: the
driver writes the resolved input_config (and span, version, fingerprint) to
the task's output file, which TFX's executor entrypoint reads back as exec
properties; the span it sets on the Examples artifact is passed on here, in
the executor input, so that the published artifact carries it (DriftGate and
the window read it)."""

from typing import List, Optional

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.io import fileio
from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver
from tfx.types import standard_component_specs

INVOCATION_FLAG = '--json_serialized_invocation_args'
INPUTS_SPEC_FLAG = '--json_serialized_inputs_spec_args'


def _flag_value(argv: List[str], flag: str) -> Optional[int]:
    """The index in argv of FLAG's value (`FLAG VALUE` or `FLAG=VALUE`)."""
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            return index + 1
        if arg.startswith(flag + '='):
            return index
    return None


def _value(argv: List[str], index: int, flag: str) -> str:
    return argv[index][len(flag) + 1 :] if argv[index].startswith(flag + '=') else argv[index]


def resolve_spans(argv: List[str]) -> List[str]:
    """The task's arguments with {SPAN} resolved, for a file-based ExampleGen
    whose input patterns have it; any other task's arguments unchanged."""
    index = _flag_value(argv, INVOCATION_FLAG)
    if index is None:
        return argv
    executor_input = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(_value(argv, index, INVOCATION_FLAG), executor_input, ignore_unknown_fields=True)
    input_config = executor_input.inputs.parameter_values.get(standard_component_specs.INPUT_CONFIG_KEY)
    if input_config is None or '{SPAN}' not in input_config.string_value:
        return argv
    inputs_spec = None
    spec_index = _flag_value(argv, INPUTS_SPEC_FLAG)
    if spec_index is not None:
        inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
        json_format.Parse(_value(argv, spec_index, INPUTS_SPEC_FLAG), inputs_spec, ignore_unknown_fields=True)

    driver._run_driver(executor_input, inputs_spec)  # noqa: SLF001  (TFX's own driver, as Vertex AI runs it)

    driver_output = pipeline_spec_pb2.ExecutorOutput()
    with fileio.open(executor_input.outputs.output_file, 'r') as f:
        json_format.Parse(f.read(), driver_output, ignore_unknown_fields=True)
    for key, resolved in driver_output.artifacts.items():
        for artifact, with_span in zip(executor_input.outputs.artifacts[key].artifacts, resolved.artifacts):
            artifact.metadata.MergeFrom(with_span.metadata)
    resolved_argv = list(argv)
    serialized = json_format.MessageToJson(executor_input)
    resolved_argv[index] = f'{INVOCATION_FLAG}={serialized}' if argv[index].startswith(INVOCATION_FLAG) else serialized
    return resolved_argv
