"""The project installed the usual way: its wheel, in a virtual environment
of its own with no source tree on the path, as the Kubeflow image installs
it (the pinned requirements first, then `pip install --no-deps`). Every
module of the wheel imports, and a small pipeline trains, blesses, pushes
and serves."""

import os
import shutil
import site
import subprocess
import sys
import zipfile

import pytest

import imdb_tfx
from conftest import SHORT_TRAINING

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


def _run(args, cwd, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900, env=env, **kwargs)


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(the wheel, the environment's bin folder, a work folder outside the source tree)."""
    root = tmp_path_factory.mktemp('wheel')
    # From the tracked files only: setuptools' build/ folder in a working tree
    # may hold modules that no longer exist.
    source = root / 'source'
    tracked = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for path in tracked:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(REPO, path), source / path)
    built = _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-w', root, source], root)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = [os.path.join(root, f) for f in os.listdir(root) if f.endswith('.whl')]
    venv = root / 'venv'
    assert _run([sys.executable, '-m', 'venv', venv], root).returncode == 0
    # The requirements as this environment installed them (pinned, with
    # tensorflow-hub 0.16.1), without its editable install of the source tree:
    # a path in a .pth file adds the folder, not the .pth files inside it.
    [packages] = [p for p in (venv / 'lib').glob('python3.*/site-packages')]
    (packages / 'requirements.pth').write_text(site.getsitepackages()[0] + '\n')
    installing = _run([venv / 'bin' / 'python', '-m', 'pip', 'install', '--no-deps', wheel], root)
    assert installing.returncode == 0, installing.stderr[-3000:]
    work = root / 'work'
    work.mkdir()
    return wheel, venv / 'bin', work


def test_the_wheel_holds_one_top_level_package_and_no_tests(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split('/')[0] for name in names if not name.split('/')[0].endswith('.dist-info')}
    assert tops == {'imdb_tfx'}
    assert 'imdb_tfx/pipeline/schema/schema.pbtxt' in names
    assert 'imdb_tfx/components/drift_gate/component.py' in names
    assert not [n for n in names if n.endswith('_test.py')]


def test_every_module_of_the_wheel_imports_from_the_installed_package(installed):
    wheel, bin_dir, work = installed
    with zipfile.ZipFile(wheel) as archive:
        files = [name for name in archive.namelist() if name.endswith('.py')]
    modules = [name[: -len('.py')].replace('/', '.').removesuffix('.__init__') for name in files]
    script = (
        'import importlib, os, sys\n'
        f'modules = {modules!r}\n'
        'for name in modules:\n'
        '    module = importlib.import_module(name)\n'
        f'    assert not module.__file__.startswith({REPO + os.sep!r}), module.__file__\n'
        'print(len(modules))\n'
    )
    result = _run([bin_dir / 'python', '-c', script], work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) == len(modules) > 80


def test_the_installed_tool_runs_a_pipeline_to_a_push_and_serves_it(installed, prepared_sample, tiny_embedding):
    _, bin_dir, work = installed
    tool = str(bin_dir / 'imdb-tfx')
    version = _run([tool, '--version'], work)
    assert version.stdout.strip() == f'imdb-tfx, version {imdb_tfx.__version__}'
    home = str(work / 'home')
    run = _run([tool, 'run', '--data', prepared_sample, '--home', home, '--hub', tiny_embedding, *SHORT_TRAINING], work)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert 'Blessed and pushed: ' in run.stdout
    predicted = _run([tool, 'predict', '--home', home, 'A wonderful film.', 'Dull and far too long.'], work)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    probabilities = [float(line.split('\t')[0]) for line in predicted.stdout.splitlines()]
    assert len(probabilities) == 2 and all(0 <= p <= 1 for p in probabilities)
