"""The Kubeflow Pipelines runner: the compiled package against the pipeline it
comes from, tasks run through their container entrypoint the way KFP's
launcher runs them, submit against a stand-in KFP API server, the commands,
and the image's Dockerfile."""

import http.server
import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
import yaml
from click.testing import CliRunner
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.proto import example_gen_pb2, pusher_pb2
from tfx.utils import import_utils, name_utils, path_utils, proto_utils

from components.data_gate import component as data_gate
from imdb_tfx.errors import UserInputError
from kubeflow import cli as kfp_cli
from kubeflow import image, runner
from kubeflow import submit as kfp_submit
from modules import trainer
from modules.hparams import Hyperparameters
from pipeline import configs, recipes
from pipeline.pipeline import ALWAYS_RUN, create_pipeline

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = 'registry.example.com/ml/imdb-tfx:test'
ENTRYPOINT = ['python', '-m', 'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor']
VOLUMES = {'imdb-data': '/mnt/imdb'}


def _dict(message):
    return json_format.MessageToDict(message)


@pytest.fixture(scope='module')
def compiled(tmp_path_factory, prepared_sample):
    root = tmp_path_factory.mktemp('kfp')
    settings = dict(image=IMAGE, pipeline_root=str(root / 'pipeline-root'), data_root=prepared_sample,
                    serving_dir=str(root / 'serving'))
    # The curated schema as this machine sees it: tasks run here, not in the image.
    path = runner.compile_pipeline(str(root / 'pipeline.yaml'), **settings, recipe='best',
                                   hyperparameters={'epochs': 3}, min_accuracy=0.7,
                                   schema_file=configs.SCHEMA_FILE, volumes=VOLUMES)
    with open(path, encoding='utf-8') as f:
        documents = list(yaml.safe_load_all(f))
    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    return dict(settings, root=root, path=path, documents=documents, spec=spec,
                executors=_dict(spec.deployment_spec)['executors'])


@pytest.fixture(scope='module')
def local_pipeline():
    """The pipeline LocalDagRunner runs: the topology is the same whatever the paths."""
    return create_pipeline(
        pipeline_name=configs.PIPELINE_NAME, pipeline_root='/local/tfx', data_root='/local/data',
        trainer_module_file=configs.TRAINER_MODULE_FILE, serving_dir='/local/serving',
        schema_file=configs.SCHEMA_FILE, hyperparameters=Hyperparameters(),
        # as compiled for the default recipe, which self-trains
        use_unlabeled=recipes.get(recipes.DEFAULT_RECIPE).hyperparameters.self_trains)


def test_tasks_and_edges_are_the_local_pipelines(compiled, local_pipeline):
    tasks = compiled['spec'].root.dag.tasks
    assert {name: sorted(task.dependent_tasks) for name, task in tasks.items()} == {
        node.id: sorted(upstream.id for upstream in node.upstream_nodes) for node in local_pipeline.components}
    for node in local_pipeline.components:
        artifacts = tasks[node.id].inputs.artifacts
        assert {name: (a.task_output_artifact.producer_task, a.task_output_artifact.output_artifact_key)
                for name, a in artifacts.items()} == {
            name: (channel.producer_component_id, channel.output_key) for name, channel in node.inputs.items()}


def test_every_executor_is_the_tfx_entrypoint_in_the_image(compiled, local_pipeline):
    spec, executors = compiled['spec'], compiled['executors']
    assert len(executors) == len(local_pipeline.components)
    for node in local_pipeline.components:
        component = spec.components[node.id]
        # Only a container: no resolver or importer, no Vertex-only lifecycle hook.
        assert list(executors[component.executor_label]) == ['container']
        container = executors[component.executor_label]['container']
        assert container['image'] == IMAGE
        assert container['command'] == ENTRYPOINT
        executor_class = name_utils.get_full_name(node.executor_spec.executor_class)
        args = container['args']
        assert args[:5] == ['--executor_class_path', executor_class, '--json_serialized_invocation_args',
                            '{{$}}', '--json_serialized_inputs_spec_args']
        assert json.loads(args[5]) == _dict(component.input_definitions)
        assert args[6:] == runner.DEFAULT_BEAM_ARGS
        import_utils.import_class_by_path(executor_class)  # what the entrypoint does in the pod
    assert importlib.util.find_spec(ENTRYPOINT[2])


def test_runtime_parameters_default_to_the_compile_options(compiled, prepared_sample):
    spec = compiled['spec']
    parameters = _dict(spec.root.input_definitions)['parameters']
    assert {name: (p['parameterType'], p['isOptional']) for name, p in parameters.items()} == {
        runner.DATA_ROOT: ('STRING', True), runner.HYPERPARAMETERS: ('STRING', True),
        runner.CANARY_MAX_BATCH_SECONDS: ('NUMBER_DOUBLE', True)}
    assert parameters[runner.DATA_ROOT]['defaultValue'] == prepared_sample
    assert parameters[runner.CANARY_MAX_BATCH_SECONDS]['defaultValue'] == 2.0
    # The whole hyperparameters, as the Trainer module reads them back.
    best = recipes.get('best')
    assert Hyperparameters.from_custom_config(json.loads(parameters[runner.HYPERPARAMETERS]['defaultValue'])) == \
        Hyperparameters(**{**best.hyperparameters.to_custom_config(), 'epochs': 3,
                           'hub_handle': f'{image.EMBEDDINGS_DIR}/glove-6b-50d-bigrams-262144-mean-lr3'})

    def inputs(task):
        return _dict(spec.root.dag.tasks[task].inputs)['parameters']
    assert inputs('ImportExampleGen')['input_base'] == {'componentInputParameter': runner.DATA_ROOT}
    assert inputs('Trainer')['custom_config'] == {'componentInputParameter': runner.HYPERPARAMETERS}
    assert inputs('ServingCanary')['max_batch_seconds'] == {
        'componentInputParameter': runner.CANARY_MAX_BATCH_SECONDS}


def test_compile_time_values_and_caching(compiled):
    spec = compiled['spec']

    def constant(task, name):
        return _dict(spec.root.dag.tasks[task].inputs)['parameters'][name]['runtimeValue']['constant']
    assert constant('ServingBaseline', 'serving_dir') == compiled['serving_dir']
    push_destination = proto_utils.json_to_proto(constant('Pusher', 'push_destination'),
                                                 pusher_pb2.PushDestination())
    assert push_destination.filesystem.base_directory == compiled['serving_dir']
    assert constant('ImportSchemaGen', 'schema_file') == configs.SCHEMA_FILE
    eval_config = proto_utils.json_to_proto(constant('Evaluator', 'eval_config'), tfma.EvalConfig())
    [accuracy] = [m for m in eval_config.metrics_specs[0].metrics if m.class_name == 'BinaryAccuracy']
    assert accuracy.per_slice_thresholds[0].threshold.value_threshold.lower_bound.value == 0.7
    # best's 80/20 split by movie.
    output_config = proto_utils.json_to_proto(constant('ImportExampleGen', 'output_config'),
                                              example_gen_pb2.Output())
    assert [(s.name, s.hash_buckets) for s in output_config.split_config.splits] == [('train', 4), ('eval', 1)]
    assert output_config.split_config.partition_feature_name == 'movie_id'
    # The Trainer module, built into a wheel under the pipeline root.
    module, wheel = constant('Trainer', 'module_path').split('@')
    assert module == 'trainer' and wheel.startswith(compiled['pipeline_root']) and os.path.isfile(wheel)

    assert spec.default_pipeline_root == compiled['pipeline_root']
    assert spec.schema_version == '2.1.0'
    caching = {name: task.caching_options.enable_cache for name, task in spec.root.dag.tasks.items()}
    assert caching == {name: name not in ALWAYS_RUN for name in caching}
    assert caching['ServingBaseline'] is False


def test_volumes_are_mounted_into_every_task(compiled):
    platform = json_format.ParseDict(compiled['documents'][1], pipeline_spec_pb2.PlatformSpec())
    mounts = _dict(platform.platforms['kubernetes'].deployment_spec)['executors']
    assert mounts == {label: {'pvcMount': [{'constant': 'imdb-data', 'mountPath': '/mnt/imdb'}]}
                      for label in compiled['executors']}


def _executor_input(spec, task_name, task_root, produced, arguments):
    """The ExecutorInput KFP 2's driver hands the launcher: parameter values
    resolved (constants, or the run's arguments for the pipeline parameters,
    else their defaults), upstream artifacts as recorded in ML Metadata (name =
    MLMD id), output URIs under the pipeline root, the executor output's file."""
    task = spec.root.dag.tasks[task_name]
    component = spec.components[task.component_ref.name]
    pipeline_parameters = spec.root.input_definitions.parameters
    parameters = {}
    for name, value in task.inputs.parameters.items():
        if value.component_input_parameter:
            parameters[name] = arguments.get(value.component_input_parameter, _dict(
                pipeline_parameters[value.component_input_parameter].default_value))
        else:
            parameters[name] = _dict(value.runtime_value.constant)
    artifacts = {}
    for name, value in task.inputs.artifacts.items():
        source = value.task_output_artifact
        upstream = produced[source.producer_task][source.output_artifact_key]
        artifacts[name] = {'artifacts': [{
            **upstream, 'type': _dict(component.input_definitions.artifacts[name].artifact_type)}]}
    outputs = {name: {'artifacts': [{
        'type': _dict(definition.artifact_type),
        'uri': f'{spec.default_pipeline_root}/{task_name}/run-1/{name}'}]}
        for name, definition in component.output_definitions.artifacts.items()}
    message = json_format.ParseDict({
        'inputs': {'parameterValues': parameters, 'artifacts': artifacts},
        'outputs': {'artifacts': outputs, 'outputFile': os.path.join(task_root, 'output_metadata.json')},
    }, pipeline_spec_pb2.ExecutorInput())
    return message


def _launch(compiled, task_name, produced, ids, arguments):
    """Runs a task's container command and args, with this environment's
    python as the image's, and records its outputs in `produced` as KFP's
    launcher records them in ML Metadata."""
    spec = compiled['spec']
    task_root = str(compiled['root'] / 'launcher' / task_name)
    os.makedirs(task_root)
    executor_input = _executor_input(spec, task_name, task_root, produced, arguments)
    component = spec.components[spec.root.dag.tasks[task_name].component_ref.name]
    container = compiled['executors'][component.executor_label]['container']
    assert container['command'][0] == 'python'
    command = [sys.executable, *container['command'][1:],
               *(json_format.MessageToJson(executor_input) if arg == '{{$}}' else arg
                 for arg in container['args'])]
    result = subprocess.run(command, cwd=task_root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    with open(executor_input.outputs.output_file, encoding='utf-8') as f:
        executor_output = json.load(f)
    produced[task_name] = {
        key: {'name': str(next(ids)), 'uri': listed['artifacts'][0]['uri'],
              'metadata': listed['artifacts'][0].get('metadata', {})}
        for key, listed in executor_output['artifacts'].items()}


@pytest.fixture(scope='module')
def launched(compiled, tiny_embedding):
    """The tasks up to the Trainer, with a run argument for the
    hyperparameters: the tiny module, one short epoch."""
    default = compiled['spec'].root.input_definitions.parameters[runner.HYPERPARAMETERS].default_value
    arguments = {runner.HYPERPARAMETERS: json.dumps(
        {**json.loads(default.string_value), 'hub_handle': tiny_embedding, 'epochs': 1, 'batch_size': 64})}
    produced, ids = {}, itertools.count(1)
    for task in ('ImportExampleGen', 'UnlabeledExampleGen', 'ImportSchemaGen', 'StatisticsGen',
                 'ExampleValidator', 'DataGate', 'Trainer'):
        _launch(compiled, task, produced, ids, arguments)
    return produced


def _records(pattern):
    return sum(1 for _ in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type='GZIP'))


def test_example_gen_task_writes_both_splits(launched, compiled):
    examples = launched['ImportExampleGen']['examples']
    assert examples['uri'].startswith(compiled['pipeline_root'])
    assert json.loads(examples['metadata']['split_names']) == ['train', 'eval']
    counts = {split: _records(os.path.join(examples['uri'], f'Split-{split}', '*.gz'))
              for split in ('train', 'eval')}
    assert sum(counts.values()) == _records(os.path.join(compiled['data_root'], 'train', '*'))
    assert counts['train'] > counts['eval'] > 0


def test_statistics_gen_task_writes_feature_stats(launched):
    statistics = launched['StatisticsGen']['statistics']
    examples = launched['ImportExampleGen']['examples']
    for split in ('train', 'eval'):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        with tf.io.gfile.GFile(os.path.join(statistics['uri'], f'Split-{split}', 'FeatureStats.pb'), 'rb') as f:
            stats.ParseFromString(f.read())
        assert stats.datasets[0].num_examples == _records(os.path.join(examples['uri'], f'Split-{split}', '*'))
        assert {f.path.step[0] for f in stats.datasets[0].features} >= {'text', 'label', 'rating', 'movie_id'}


def test_data_gate_task_passes_the_sample(launched):
    with open(os.path.join(launched['DataGate']['result']['uri'], data_gate.REPORT_FILE), encoding='utf-8') as f:
        assert json.load(f)['passed'] is True


def test_trainer_task_installs_the_module_and_takes_the_run_arguments(launched):
    model_run = launched['Trainer']['model_run']['uri']
    with open(os.path.join(model_run, trainer.HISTORY_FILE), encoding='utf-8') as f:
        assert len(json.load(f)['loss']) == 1  # epochs=1 from the run's arguments, not the compiled 3
    # The default recipe self-trains on the UnlabeledExampleGen task's 100 reviews.
    with open(os.path.join(model_run, trainer.SELF_TRAINING_FILE), encoding='utf-8') as f:
        assert json.load(f)['unlabeled_reviews'] == 100
    model = launched['Trainer']['model']['uri']
    assert os.path.isfile(os.path.join(path_utils.serving_model_path(model), 'saved_model.pb'))


class _KfpApi(http.server.BaseHTTPRequestHandler):
    """The endpoints kfp 2.5's Client calls to run a package and follow the
    run; it records each request. The run ends in `final_state`."""
    final_state = 'SUCCEEDED'
    requests = []

    def do_GET(self):
        self._record(None)
        path = urllib.parse.urlparse(self.path).path
        if path == '/apis/v2beta1/healthz':
            self._answer({'multi_user': False})
        elif path == '/apis/v2beta1/experiments':
            self._answer({})  # none yet: the client creates it
        elif path == '/apis/v2beta1/runs/run-1':
            self._answer({'run_id': 'run-1', 'state': self.final_state})
        else:
            self._answer({'error': 'not found'}, status=404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        self._record(body)
        if self.path == '/apis/v2beta1/experiments':
            self._answer({'experiment_id': 'experiment-1', 'display_name': body['display_name']})
        elif self.path == '/apis/v2beta1/runs':
            self._answer({'run_id': 'run-1', 'display_name': body['display_name'], 'state': 'PENDING'})
        else:
            self._answer({'error': 'not found'}, status=404)

    def _record(self, body):
        self.requests.append((self.command, urllib.parse.urlparse(self.path).path, body))

    def _answer(self, payload, status=200):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_api(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))  # no kfp context file of the user's
    handler = type('Handler', (_KfpApi,), {'requests': []})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    thread.join(timeout=10)


def _run_request(handler):
    [body] = [body for method, path, body in handler.requests if (method, path) == ('POST', '/apis/v2beta1/runs')]
    return body


def test_submit_sends_the_package_and_arguments_and_waits(compiled, kfp_api):
    handler, host = kfp_api
    run_id = kfp_submit.submit(compiled['path'], host, experiment='imdb-ci', run_name='ci-1',
                               arguments={runner.DATA_ROOT: '/mnt/imdb/data'}, wait=True, poll_seconds=0)
    assert run_id == 'run-1'
    experiment = [b for m, p, b in handler.requests if (m, p) == ('POST', '/apis/v2beta1/experiments')]
    assert [b['display_name'] for b in experiment] == ['imdb-ci']
    body = _run_request(handler)
    assert body['experiment_id'] == 'experiment-1' and body['display_name'] == 'ci-1'
    assert body['runtime_config']['parameters'] == {runner.DATA_ROOT: '/mnt/imdb/data'}
    # The package whole: the PipelineSpec and the volumes' platform spec.
    assert body['pipeline_spec'] == {'pipeline_spec': compiled['documents'][0],
                                     'platform_spec': compiled['documents'][1]}
    assert ('GET', '/apis/v2beta1/runs/run-1', None) in handler.requests


def test_submit_raises_when_the_run_fails(compiled, kfp_api):
    handler, host = kfp_api
    handler.final_state = 'FAILED'
    with pytest.raises(kfp_submit.RunFailedError, match='run-1 ended FAILED'):
        kfp_submit.submit(compiled['path'], host, wait=True, poll_seconds=0)
    assert kfp_submit.submit(compiled['path'], host) == 'run-1'  # without wait: started is enough


def _options(tmp_path, *extra):
    return ['--pipeline-root', str(tmp_path / 'root'), '--data', 'gs://bucket/imdb',
            '--serving-dir', '/mnt/imdb/serving', *extra]


def test_compile_kfp_command(tmp_path):
    output = str(tmp_path / 'pipeline.yaml')
    result = CliRunner().invoke(kfp_cli.compile_kfp_command, ['--output', output, *_options(
        tmp_path, '--infer-schema', '--learning-rate', '0.01',
        '--beam-arg', '--runner=DataflowRunner', '--beam-arg=--project=my-project')])
    assert result.exit_code == 0, result.output
    with open(output, encoding='utf-8') as f:
        [document] = list(yaml.safe_load_all(f))  # no --volume: no platform spec
    spec = json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())
    assert 'SchemaGen' in spec.root.dag.tasks and 'ImportSchemaGen' not in spec.root.dag.tasks
    executors = _dict(spec.deployment_spec)['executors']
    assert {e['container']['image'] for e in executors.values()} == {image.DEFAULT_TAG}
    assert executors['StatisticsGen_executor']['container']['args'][-2:] == [
        '--runner=DataflowRunner', '--project=my-project']
    hyperparameters = json.loads(document['root']['inputDefinitions']['parameters'][runner.HYPERPARAMETERS]
                                 ['defaultValue'])
    best = recipes.get(recipes.DEFAULT_RECIPE)
    assert hyperparameters['learning_rate'] == 0.01
    assert hyperparameters['hub_handle'] == runner.image_hub_handle(best.embedding)


@pytest.mark.parametrize('extra, message', [
    (['--data', 'relative/data'], 'data relative/data'),
    (['--serving-dir', 'gs://bucket/serving'], 'serving directory'),
    (['--volume', 'claim-without-path'], '--volume'),
])
def test_compile_kfp_command_rejects_paths_pods_cannot_see(tmp_path, extra, message):
    result = CliRunner().invoke(kfp_cli.compile_kfp_command,
                                ['--output', str(tmp_path / 'p.yaml'), *_options(tmp_path, *extra)])
    assert isinstance(result.exception, UserInputError) and message in str(result.exception)


def test_submit_command_compiles_and_starts_a_run(tmp_path, kfp_api):
    handler, host = kfp_api
    result = CliRunner().invoke(kfp_cli.submit_command, [
        '--host', host, '--experiment', 'imdb', *_options(tmp_path, '--volume', 'imdb:/mnt/imdb')])
    assert result.exit_code == 0, result.output
    assert 'Run run-1 started' in result.output
    body = _run_request(handler)
    assert body['runtime_config']['parameters'] == {}  # the compiled defaults apply
    assert body['pipeline_spec']['pipeline_spec']['root']['inputDefinitions']['parameters'][
        runner.DATA_ROOT]['defaultValue'] == 'gs://bucket/imdb'


def test_submit_command_fails_when_the_run_fails(tmp_path, kfp_api, monkeypatch):
    handler, host = kfp_api
    handler.final_state = 'FAILED'
    monkeypatch.setattr(kfp_submit.time, 'sleep', lambda seconds: None)
    result = CliRunner().invoke(kfp_cli.submit_command, ['--host', host, '--wait', *_options(tmp_path)])
    assert result.exit_code == 1 and 'run-1 ended FAILED' in result.output


def _dockerfile_instructions():
    with open(os.path.join(REPO, 'kubeflow', 'Dockerfile'), encoding='utf-8') as f:
        lines = [line for line in f.read().replace('\\\n', ' ').splitlines()
                 if line.strip() and not line.lstrip().startswith('#')]
    return [line.split(None, 1) for line in lines]


def _run_commands(instructions):
    return [' '.join(command.split()) for keyword, rest in instructions if keyword == 'RUN'
            for command in rest.split('&&')]


def test_dockerfile_copies_existing_paths_and_installs_the_local_pins():
    instructions = _dockerfile_instructions()
    copies = [rest.split() for keyword, rest in instructions if keyword == 'COPY']
    for sources in (c[:-1] for c in copies if not c[0].startswith('--from=')):
        for source in sources:
            assert os.path.exists(os.path.join(REPO, source)), source
    # Beam's worker boot comes from the SDK image of the pinned Beam and Python.
    with open(os.path.join(REPO, 'requirements.txt'), encoding='utf-8') as f:
        beam = re.search(r'^apache-beam\[gcp\]==(\S+)$', f.read(), re.MULTILINE).group(1)
    assert [c[0] for c in copies if c[0].startswith('--from=')] == [
        f'--from=apache/beam_python3.10_sdk:{beam}']
    assert instructions[0] == ['FROM', 'python:3.10-slim']  # setup.py: >=3.10,<3.11
    env = ' '.join(rest for keyword, rest in instructions if keyword == 'ENV')
    assert 'TF_USE_LEGACY_KERAS=1' in env.split()
    commands = _run_commands(instructions)
    assert 'pip install -r requirements.txt -c constraints.txt' in commands
    assert 'pip install --no-deps .' in commands
    # Every other pin is the Makefile's: tensorflow-hub, installed apart.
    with open(os.path.join(REPO, 'Makefile'), encoding='utf-8') as f:
        makefile_pins = re.findall(r'--no-deps (\S+==\S+)', f.read())
    dockerfile_pins = re.findall(r'\S+==\S+', ' '.join(commands))
    assert dockerfile_pins and dockerfile_pins == makefile_pins
    assert f'cp pipeline/schema/schema.pbtxt {image.SCHEMA_FILE}' in commands


def test_dockerfile_bakes_every_recipes_embedding_module():
    built = set()
    for command in _run_commands(_dockerfile_instructions()):
        words = command.split()
        if words[:2] == ['imdb-tfx', 'build-embedding']:
            options = dict(zip(words[2::2], words[3::2]))
            built.add((options['--output'], int(options.get('--bigram-buckets', 0)),
                       options.get('--combiner', 'sqrtn'), float(options.get('--table-lr-multiplier', 1))))
    assert built == {(runner.image_hub_handle(r.embedding), r.embedding.bigram_buckets,
                      r.embedding.combiner, r.embedding.table_lr_multiplier)
                     for r in recipes.RECIPES.values()}
