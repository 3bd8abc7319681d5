"""The entrypoint's span resolution on a real spans folder and the
ExecutorInput KFP hands an ImportExampleGen task."""

import json

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.proto import example_gen_pb2
from tfx.utils import proto_utils

from imdb_tfx.kubeflow import span_driver


def _executor_input(data: str, output_file: str, pattern: str) -> pipeline_spec_pb2.ExecutorInput:
    message = pipeline_spec_pb2.ExecutorInput()
    parameters = message.inputs.parameter_values
    parameters['input_base'].string_value = data
    parameters['input_config'].string_value = proto_utils.proto_to_json(
        example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name='train', pattern=pattern)])
    )
    examples = message.outputs.artifacts['examples'].artifacts.add()
    examples.uri = '/pipeline-root/ImportExampleGen/examples'
    examples.type.schema_title = 'tfx.Examples'
    message.outputs.output_file = output_file
    return message


def test_the_newest_span_is_resolved_and_carried_by_the_examples_artifact(tmp_path):
    data = tmp_path / 'data'
    for span in (1, 2, 10):
        (data / f'span-{span}' / 'train').mkdir(parents=True)
        (data / f'span-{span}' / 'train' / 'data.tfrecord.gz').write_bytes(b'x' * span)
    message = _executor_input(str(data), str(tmp_path / 'task' / 'output_metadata.json'), 'span-{SPAN}/train/*')
    # The arguments as the compiled package gives them (spec 2.1: typed parameters).
    inputs_spec = {'parameters': {name: {'parameterType': 'STRING'} for name in ('input_base', 'input_config')}}
    argv = [
        'entrypoint',
        '--executor_class_path',
        'tfx.components.example_gen.import_example_gen.executor.Executor',
        span_driver.INVOCATION_FLAG,
        json_format.MessageToJson(message),
        span_driver.INPUTS_SPEC_FLAG,
        json.dumps(inputs_spec),
    ]

    resolved = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(span_driver.resolve_spans(argv)[4], resolved)
    # The artifact the executor publishes carries span 10 (not 2: numbers, not strings).
    metadata = json_format.MessageToDict(resolved.outputs.artifacts['examples'].artifacts[0].metadata)
    assert metadata['custom:span'] == 10
    # TFX's driver left the resolved input_config for the executor entrypoint to read.
    with open(tmp_path / 'task' / 'output_metadata.json', encoding='utf-8') as f:
        written = json.load(f)['parameterValues']
    assert json.loads(written['input_config'])['splits'][0]['pattern'] == 'span-10/train/*'
    assert written['span'] == 10


def test_other_tasks_arguments_are_left_alone(tmp_path):
    message = _executor_input(str(tmp_path), str(tmp_path / 'out.json'), 'train/*')
    argv = ['entrypoint', f'--json_serialized_invocation_args={json_format.MessageToJson(message)}']
    assert span_driver.resolve_spans(argv) is argv
    assert span_driver.resolve_spans(['entrypoint', '--help']) == ['entrypoint', '--help']
    assert not (tmp_path / 'out.json').exists()
