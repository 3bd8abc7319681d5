"""The Kubeflow Pipelines runner: the compiled package against the pipeline it
comes from, compiling offline, submit against a stand-in KFP API server, the
commands, and the image's Dockerfile. Running packages: test_kfp_local.py."""

import http.server
import importlib.util
import json
import os
import re
import tempfile
import threading
import urllib.parse

import pytest
import tensorflow_model_analysis as tfma
import yaml
from click.testing import CliRunner
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.proto import example_gen_pb2, pusher_pb2
from tfx.utils import dependency_utils, import_utils, name_utils, proto_utils

from conftest import default_pipeline, imdb_tfx
from imdb_tfx import cli
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.kubeflow import cli as kfp_cli
from imdb_tfx.kubeflow import image, image_files, runner
from imdb_tfx.kubeflow import submit as kfp_submit
from imdb_tfx.modules.hparams import PIPELINE_BUILT_HUB_HANDLE, Hyperparameters
from imdb_tfx.pipeline import configs, options, recipes
from imdb_tfx.pipeline.config import Locations
from imdb_tfx.pipeline.pipeline import ALWAYS_RUN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = 'registry.example.com/ml/imdb-tfx:test'
VOLUMES = {'imdb-data': '/mnt/imdb'}


def _dict(message):
    return json_format.MessageToDict(message)


@pytest.fixture(scope='module')
def compiled(tmp_path_factory, prepared_sample):
    root = tmp_path_factory.mktemp('kfp')
    settings = dict(
        image=IMAGE,
        pipeline_root=str(root / 'pipeline-root'),
        data_root=prepared_sample,
        serving_dir=str(root / 'serving'),
    )
    # The curated schema as this machine sees it: tasks run here, not in the image.
    config = options.from_options(
        options.parse_options(['--recipe', 'best', '--epochs', '3', '--min-accuracy', '0.7']),
        schema_file=configs.SCHEMA_FILE,
    )
    locations = Locations(settings['pipeline_root'], settings['data_root'], settings['serving_dir'])
    path = runner.compile_pipeline(str(root / 'pipeline.yaml'), IMAGE, locations, config, volumes=VOLUMES)
    with open(path, encoding='utf-8') as f:
        documents = list(yaml.safe_load_all(f))
    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    return dict(
        settings,
        root=root,
        path=path,
        documents=documents,
        spec=spec,
        executors=_dict(spec.deployment_spec)['executors'],
    )


@pytest.fixture(scope='module')
def local_pipeline():
    """The pipeline LocalDagRunner runs: the topology is the same whatever the paths."""
    return default_pipeline()


def test_tasks_and_edges_are_the_local_pipelines(compiled, local_pipeline):
    tasks = compiled['spec'].root.dag.tasks
    assert {name: sorted(task.dependent_tasks) for name, task in tasks.items()} == {
        node.id: sorted(upstream.id for upstream in node.upstream_nodes) for node in local_pipeline.components
    }
    for node in local_pipeline.components:
        artifacts = tasks[node.id].inputs.artifacts
        assert {
            name: (a.task_output_artifact.producer_task, a.task_output_artifact.output_artifact_key)
            for name, a in artifacts.items()
        } == {name: (channel.producer_component_id, channel.output_key) for name, channel in node.inputs.items()}


def test_every_executor_is_the_tfx_entrypoint_in_the_image(compiled, local_pipeline):
    spec, executors = compiled['spec'], compiled['executors']
    assert len(executors) == len(local_pipeline.components)
    for node in local_pipeline.components:
        component = spec.components[node.id]
        # Only a container: no resolver or importer, no Vertex-only lifecycle hook.
        assert list(executors[component.executor_label]) == ['container']
        container = executors[component.executor_label]['container']
        assert container['image'] == IMAGE
        assert container['command'] == runner.ENTRYPOINT
        executor_class = name_utils.get_full_name(node.executor_spec.executor_class)
        args = container['args']
        assert args[:5] == [
            '--executor_class_path',
            executor_class,
            '--json_serialized_invocation_args',
            '{{$}}',
            '--json_serialized_inputs_spec_args',
        ]
        assert json.loads(args[5]) == _dict(component.input_definitions)
        assert args[6:] == runner.default_beam_args(IMAGE)
        import_utils.import_class_by_path(executor_class)  # what the entrypoint does in the pod
    assert importlib.util.find_spec(runner.ENTRYPOINT[2])


def test_no_task_packages_tfx_in_its_pod(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    beam_args = runner.default_beam_args(IMAGE)
    assert dependency_utils.make_beam_dependency_flags(beam_args) == beam_args
    assert os.listdir(tmp_path) == []


def test_runtime_parameters_default_to_the_compile_options(compiled, prepared_sample):
    spec = compiled['spec']
    parameters = _dict(spec.root.input_definitions)['parameters']
    assert {name: (p['parameterType'], p['isOptional']) for name, p in parameters.items()} == {
        runner.DATA_ROOT: ('STRING', True),
        runner.HYPERPARAMETERS: ('STRING', True),
        runner.CANARY_MAX_BATCH_SECONDS: ('NUMBER_DOUBLE', True),
    }
    assert parameters[runner.DATA_ROOT]['defaultValue'] == prepared_sample
    assert parameters[runner.CANARY_MAX_BATCH_SECONDS]['defaultValue'] == 2.0
    # The whole hyperparameters, as the Trainer module reads them back.
    best = recipes.get('best')
    assert Hyperparameters.from_custom_config(
        json.loads(parameters[runner.HYPERPARAMETERS]['defaultValue'])
    ) == Hyperparameters(
        **{**best.hyperparameters.to_custom_config(), 'epochs': 3, 'hub_handle': PIPELINE_BUILT_HUB_HANDLE}
    )

    def inputs(task):
        return _dict(spec.root.dag.tasks[task].inputs)['parameters']

    assert inputs('ImportExampleGen')['input_base'] == {'componentInputParameter': runner.DATA_ROOT}
    assert inputs('Trainer')['custom_config'] == {'componentInputParameter': runner.HYPERPARAMETERS}
    assert inputs('ServingCanary')['max_batch_seconds'] == {'componentInputParameter': runner.CANARY_MAX_BATCH_SECONDS}
    # best's module is built in the pipeline from the image's GloVe wheel.
    assert inputs('EmbeddingBuilder')['glove_dir'] == {'runtimeValue': {'constant': image.GLOVE_DIR}}


def test_compile_time_values_and_caching(compiled):
    spec = compiled['spec']

    def constant(task, name):
        return _dict(spec.root.dag.tasks[task].inputs)['parameters'][name]['runtimeValue']['constant']

    assert constant('ServingBaseline', 'serving_dir') == compiled['serving_dir']
    push_destination = proto_utils.json_to_proto(constant('Pusher', 'push_destination'), pusher_pb2.PushDestination())
    assert push_destination.filesystem.base_directory == compiled['serving_dir']
    assert constant('ImportSchemaGen', 'schema_file') == configs.SCHEMA_FILE
    eval_config = proto_utils.json_to_proto(constant('Evaluator', 'eval_config'), tfma.EvalConfig())
    [accuracy] = [m for m in eval_config.metrics_specs[0].metrics if m.class_name == 'BinaryAccuracy']
    assert accuracy.per_slice_thresholds[0].threshold.value_threshold.lower_bound.value == 0.7
    # train/valid/eval by movie, in the configured ratio; the regression confidence compiled in.
    output_config = proto_utils.json_to_proto(constant('ImportExampleGen', 'output_config'), example_gen_pb2.Output())
    assert [(s.name, s.hash_buckets) for s in output_config.split_config.splits] == [
        ('train', 7),
        ('valid', 1),
        ('eval', 2),
    ]
    [paired] = [m for m in eval_config.metrics_specs[0].metrics if m.class_name == 'PairedAccuracyDifference']
    assert json.loads(paired.config) == {'confidence': configs.REGRESSION_CONFIDENCE}
    assert output_config.split_config.partition_feature_name == 'movie_id'
    # The Trainer's run_fn by import path: nothing was written under the pipeline root.
    assert constant('Trainer', 'run_fn') == configs.TRAINER_RUN_FN
    assert 'module_path' not in spec.root.dag.tasks['Trainer'].inputs.parameters
    assert not os.path.exists(compiled['pipeline_root'])

    assert spec.default_pipeline_root == compiled['pipeline_root']
    assert spec.schema_version == '2.1.0'
    caching = {name: task.caching_options.enable_cache for name, task in spec.root.dag.tasks.items()}
    assert caching == {name: name not in ALWAYS_RUN for name in caching}
    assert caching['ServingBaseline'] is False


def test_volumes_are_mounted_into_every_task(compiled):
    platform = json_format.ParseDict(compiled['documents'][1], pipeline_spec_pb2.PlatformSpec())
    mounts = _dict(platform.platforms['kubernetes'].deployment_spec)['executors']
    assert mounts == {
        label: {'pvcMount': [{'constant': 'imdb-data', 'mountPath': '/mnt/imdb'}]} for label in compiled['executors']
    }


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
    run_id = kfp_submit.submit(
        compiled['path'],
        host,
        experiment='imdb-ci',
        run_name='ci-1',
        arguments={runner.DATA_ROOT: '/mnt/imdb/data'},
        wait=True,
        poll_seconds=0,
    )
    assert run_id == 'run-1'
    experiment = [b for m, p, b in handler.requests if (m, p) == ('POST', '/apis/v2beta1/experiments')]
    assert [b['display_name'] for b in experiment] == ['imdb-ci']
    body = _run_request(handler)
    assert body['experiment_id'] == 'experiment-1' and body['display_name'] == 'ci-1'
    assert body['runtime_config']['parameters'] == {runner.DATA_ROOT: '/mnt/imdb/data'}
    # The package whole: the PipelineSpec and the volumes' platform spec.
    assert body['pipeline_spec'] == {
        'pipeline_spec': compiled['documents'][0],
        'platform_spec': compiled['documents'][1],
    }
    assert ('GET', '/apis/v2beta1/runs/run-1', None) in handler.requests


def test_submit_raises_when_the_run_fails(compiled, kfp_api):
    handler, host = kfp_api
    handler.final_state = 'FAILED'
    with pytest.raises(kfp_submit.RunFailedError, match='run-1 ended FAILED'):
        kfp_submit.submit(compiled['path'], host, wait=True, poll_seconds=0)
    assert kfp_submit.submit(compiled['path'], host) == 'run-1'  # without wait: started is enough


def _options(tmp_path, *extra):
    return [
        '--pipeline-root',
        str(tmp_path / 'root'),
        '--data',
        'gs://bucket/imdb',
        '--serving-dir',
        '/mnt/imdb/serving',
        *extra,
    ]


def test_compile_kfp_command(tmp_path):
    output = str(tmp_path / 'pipeline.yaml')
    result = CliRunner().invoke(
        kfp_cli.compile_kfp_command,
        [
            '--output',
            output,
            *_options(
                tmp_path,
                '--infer-schema',
                '--learning-rate',
                '0.01',
                '--beam-arg',
                '--runner=DataflowRunner',
                '--beam-arg=--project=my-project',
            ),
        ],
    )
    assert result.exit_code == 0, result.output
    with open(output, encoding='utf-8') as f:
        [document] = list(yaml.safe_load_all(f))  # no --volume: no platform spec
    spec = json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())
    assert 'SchemaGen' in spec.root.dag.tasks and 'ImportSchemaGen' not in spec.root.dag.tasks
    executors = _dict(spec.deployment_spec)['executors']
    assert {e['container']['image'] for e in executors.values()} == {image.DEFAULT_TAG}
    assert executors['StatisticsGen_executor']['container']['args'][-2:] == [
        '--runner=DataflowRunner',
        '--project=my-project',
    ]
    hyperparameters = json.loads(
        document['root']['inputDefinitions']['parameters'][runner.HYPERPARAMETERS]['defaultValue']
    )
    best = recipes.get(recipes.DEFAULT_RECIPE)
    assert hyperparameters['learning_rate'] == 0.01
    assert best.embedding.data_vocabulary and hyperparameters['hub_handle'] == PIPELINE_BUILT_HUB_HANDLE
    assert 'EmbeddingBuilder' in spec.root.dag.tasks


@pytest.mark.parametrize(
    'extra, message',
    [
        (['--data', 'relative/data'], 'data relative/data'),
        (['--serving-dir', 'serving'], 'serving directory serving'),
        (['--pipeline-root', 'minio://mlpipeline/v2'], 'no minio:// filesystem'),
        (['--serving-dir', 'hdfs://nn/serving'], 'unsupported scheme'),
        (['--volume', 'claim-without-path'], '--volume'),
        (['--s3-secret', 'name:only-one-key'], '--s3-secret'),
        (['--self-training-confidence', '0.3'], 'self_training_confidence'),
        (['--max-drift', 'rating=0.3'], '--max-drift: only with --window'),
    ],
)
def test_compile_kfp_command_rejects_paths_pods_cannot_see(tmp_path, extra, message):
    result = CliRunner().invoke(
        kfp_cli.compile_kfp_command, ['--output', str(tmp_path / 'p.yaml'), *_options(tmp_path, *extra)]
    )
    assert isinstance(result.exception, UserInputError) and message in str(result.exception)


def test_submit_command_compiles_and_starts_a_run(tmp_path, kfp_api):
    handler, host = kfp_api
    result = CliRunner().invoke(
        kfp_cli.submit_command,
        ['--host', host, '--experiment', 'imdb', *_options(tmp_path, '--volume', 'imdb:/mnt/imdb')],
    )
    assert result.exit_code == 0, result.output
    assert 'Run run-1 started' in result.output
    body = _run_request(handler)
    assert body['runtime_config']['parameters'] == {}  # the compiled defaults apply
    assert (
        body['pipeline_spec']['pipeline_spec']['root']['inputDefinitions']['parameters'][runner.DATA_ROOT][
            'defaultValue'
        ]
        == 'gs://bucket/imdb'
    )


def test_submit_command_fails_when_the_run_fails(tmp_path, kfp_api, monkeypatch):
    handler, host = kfp_api
    handler.final_state = 'FAILED'
    monkeypatch.setattr(kfp_submit.time, 'sleep', lambda seconds: None)
    result = CliRunner().invoke(kfp_cli.submit_command, ['--host', host, '--wait', *_options(tmp_path)])
    assert result.exit_code == 1 and 'run-1 ended FAILED' in result.output


def _dockerfile_instructions():
    with open(os.path.join(REPO, 'kubeflow', 'Dockerfile'), encoding='utf-8') as f:
        lines = [
            line
            for line in f.read().replace('\\\n', ' ').splitlines()
            if line.strip() and not line.lstrip().startswith('#')
        ]
    return [line.split(None, 1) for line in lines]


def _run_commands(instructions):
    return [
        ' '.join(command.split()) for keyword, rest in instructions if keyword == 'RUN' for command in rest.split('&&')
    ]


def test_dockerfile_copies_existing_paths_and_installs_the_local_pins():
    instructions = _dockerfile_instructions()
    copies = [rest.split() for keyword, rest in instructions if keyword == 'COPY']
    for sources in (c[:-1] for c in copies if not c[0].startswith('--from=')):
        for source in sources:
            assert os.path.exists(os.path.join(REPO, source)), source
    # Beam's worker boot comes from the SDK image of the pinned Beam and Python.
    with open(os.path.join(REPO, 'requirements.txt'), encoding='utf-8') as f:
        beam = re.search(r'^apache-beam\[gcp,aws\]==(\S+)$', f.read(), re.MULTILINE).group(1)
    assert [c[0] for c in copies if c[0].startswith('--from=')] == [f'--from=apache/beam_python3.10_sdk:{beam}']
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


def test_dockerfile_bakes_the_schema_and_every_recipes_embedding_module():
    commands = _run_commands(_dockerfile_instructions())
    assert f'python -m imdb_tfx.kubeflow.image_files {image.IMAGE_ROOT}' in commands
    modules = image_files.embedding_modules()
    baked = [r for r in recipes.RECIPES.values() if not r.embedding.data_vocabulary]
    assert baked and {os.path.join(image.IMAGE_ROOT, path) for path in modules} == {
        runner.image_hub_handle(r.embedding) for r in baked
    }
    assert set(modules.values()) == {r.embedding for r in baked}
    assert os.path.dirname(image.GLOVE_DIR) == image.IMAGE_ROOT  # the wheel the others are built from
    assert os.path.dirname(image.SCHEMA_FILE) == image.IMAGE_ROOT


def test_compiling_is_offline_and_names_bad_locations_in_one_line(tmp_path):
    """No credentials, no network: gs:// and s3:// locations are only named."""
    env = {
        'HOME': str(tmp_path),
        'GOOGLE_APPLICATION_CREDENTIALS': str(tmp_path / 'none.json'),
        'AWS_ACCESS_KEY_ID': '',
        'AWS_SECRET_ACCESS_KEY': '',
    }
    package = str(tmp_path / 'pipeline.yaml')
    result = imdb_tfx(
        'compile-kfp',
        '--output',
        package,
        '--pipeline-root',
        'gs://no-such-bucket/root',
        '--data',
        'gs://no-such-bucket/data',
        '--serving-dir',
        's3://other/serving',
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == package
    assert not os.path.exists(os.path.join(tmp_path, 'no-such-bucket'))
    result = imdb_tfx(
        'compile-kfp',
        '--output',
        package,
        '--pipeline-root',
        'minio://mlpipeline/v2',
        '--data',
        'gs://b/d',
        '--serving-dir',
        '/mnt/s',
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith('error: pipeline root minio://mlpipeline/v2: ')


def test_s3_locations_get_the_endpoint_and_the_secret_by_name_only(tmp_path):
    package = str(tmp_path / 'pipeline.yaml')
    result = CliRunner().invoke(
        kfp_cli.compile_kfp_command,
        [
            '--output',
            package,
            '--pipeline-root',
            's3://mlpipeline/imdb',
            '--data',
            's3://mlpipeline/data',
            '--serving-dir',
            's3://models/imdb',
            '--s3-endpoint',
            'http://minio-service.kubeflow:9000',
            '--s3-secret',
            'my-minio:user:password',
            '--volume',
            'imdb:/mnt/imdb',
        ],
    )
    assert result.exit_code == 0, result.output
    with open(package, encoding='utf-8') as f:
        spec, platform = list(yaml.safe_load_all(f))
    for executor in spec['deploymentSpec']['executors'].values():
        assert {e['name']: e['value'] for e in executor['container']['env']} == {
            'AWS_REGION': 'us-east-1',
            'S3_ENDPOINT': 'http://minio-service.kubeflow:9000',
            'S3_USE_HTTPS': '0',
            'S3_VERIFY_SSL': '0',
        }
    configs_by_executor = platform['platforms']['kubernetes']['deploymentSpec']['executors']
    assert set(configs_by_executor) == set(spec['deploymentSpec']['executors'])
    for config in configs_by_executor.values():
        assert config['secretAsEnv'] == [
            {
                'secretName': 'my-minio',
                'keyToEnv': [
                    {'secretKey': 'user', 'envVar': 'AWS_ACCESS_KEY_ID'},
                    {'secretKey': 'password', 'envVar': 'AWS_SECRET_ACCESS_KEY'},
                ],
            }
        ]
        assert config['pvcMount'] == [{'constant': 'imdb', 'mountPath': '/mnt/imdb'}]


def test_compile_kfp_and_submit_take_every_run_option():
    def names(command):
        return {p.name for p in command.params}

    # What only LocalDagRunner does: partial runs, imdb-tfx run's own retries.
    local_only = {'data', 'home', 'from_nodes', 'to_nodes', 'retries'}
    shared = names(cli.run_command) - local_only
    assert shared <= names(kfp_cli.compile_kfp_command)
    assert shared <= names(kfp_cli.submit_command)
    assert {'self_training_confidence', 'self_training_rounds', 'epochs', 'dropout'} <= shared


def test_a_spans_package_keeps_the_accepted_spans_in_a_ledger_and_never_caches_what_reads_them(tmp_path):
    """compile-kfp --window: no resolver (open-source KFP runs none), ExampleGen
    reads the newest span (resolved in the task), DriftGate reads and keeps
    the ledger under the pipeline root; all three always run."""
    output = str(tmp_path / 'pipeline.yaml')
    result = CliRunner().invoke(
        kfp_cli.compile_kfp_command,
        ['--output', output, *_options(tmp_path, '--window', '2', '--max-drift', 'rating=0.3')],
    )
    assert result.exit_code == 0, result.output
    with open(output, encoding='utf-8') as f:
        spec = json_format.ParseDict(yaml.safe_load(f), pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    assert 'DriftGate' in tasks and not any('resolver' in name.lower() for name in tasks)
    parameters = _dict(tasks['DriftGate'].inputs)['parameters']

    def constant(name):
        return parameters[name]['runtimeValue']['constant']

    assert constant('span_ledger') == f'{tmp_path / "root"}/{configs.PIPELINE_NAME}/{runner.SPAN_LEDGER_DIR}'
    assert constant('window_spans') == 2
    assert json.loads(constant('thresholds')) == {**configs.DRIFT_THRESHOLDS, 'rating': 0.3}
    assert set(_dict(tasks['DriftGate'].inputs)['artifacts']) == {'examples', 'baseline', 'unlabeled_examples'}
    # The Trainer and EmbeddingBuilder read the window, the Evaluator the accepted span.
    for task, key, output_key in (
        ('Trainer', 'examples', 'window'),
        ('EmbeddingBuilder', 'examples', 'window'),
        ('Evaluator', 'examples', 'accepted'),
    ):
        source = _dict(tasks[task].inputs)['artifacts'][key]['taskOutputArtifact']
        assert source == {'producerTask': 'DriftGate', 'outputArtifactKey': output_key}
    input_config = proto_utils.json_to_proto(
        _dict(tasks['ImportExampleGen'].inputs)['parameters']['input_config']['runtimeValue']['constant'],
        example_gen_pb2.Input(),
    )
    assert [s.pattern for s in input_config.splits] == ['span-{SPAN}/train/*']
    caching = {name: task.caching_options.enable_cache for name, task in tasks.items()}
    assert {name for name, cached in caching.items() if not cached} == {*ALWAYS_RUN, *runner.SPANS_ALWAYS_RUN}
