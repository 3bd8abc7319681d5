"""The code's shape, as docs/architecture.md states it: one installed
package, short functions, a narrow create_pipeline, and comments that say
why, never when or how much (figures live in results files and docs)."""

import ast
import inspect
import io
import os
import re
import tokenize

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The folders setup.py maps into imdb_tfx, and the benchmarks beside them.
PACKAGE_FOLDERS = ('imdb_tfx', 'core', 'modules', 'components', 'pipeline', 'kubeflow')
CODE_FOLDERS = (*PACKAGE_FOLDERS, 'benchmarks')
MAX_FUNCTION_LINES = 60
# A date, or a pointer into the project's history.
HISTORY = re.compile(r'\b20\d\d-\d\d-\d\d\b|\b(issue|task) #?\d+\b|\bcommit [0-9a-f]{7,}\b', re.IGNORECASE)


def _code_files():
    for folder in CODE_FOLDERS:
        for root, _, files in os.walk(os.path.join(REPO, folder)):
            for name in files:
                if name.endswith('.py') and not name.endswith('_test.py'):
                    yield os.path.join(root, name)


def _functions(path):
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_function_is_longer_than_60_lines():
    long = [
        f'{os.path.relpath(path, REPO)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)'
        for path in _code_files()
        for node in _functions(path)
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def _comments_and_docstrings(path):
    with open(path, encoding='utf-8') as f:
        source = f.read()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                yield getattr(node, 'lineno', 1), docstring


def test_comments_and_docstrings_carry_no_dates_or_history():
    found = [
        f'{os.path.relpath(path, REPO)}:{line}: {HISTORY.search(text).group(0)}'
        for path in _code_files()
        for line, text in _comments_and_docstrings(path)
        if HISTORY.search(text)
    ]
    assert found == []


def test_create_pipeline_takes_the_configuration_objects_and_at_most_10_parameters():
    from imdb_tfx.pipeline.pipeline import create_pipeline

    parameters = inspect.signature(create_pipeline).parameters
    assert len(parameters) <= 10
    assert list(parameters)[:5] == ['locations', 'data', 'training', 'gate', 'spans']


def test_the_wheel_installs_one_top_level_package_covering_every_module():
    """setup.py's packages are imdb_tfx and its subpackages, and every folder
    of code is a package (a folder without __init__.py would be left out)."""
    import setuptools

    captured = {}
    original = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        cwd = os.getcwd()
        os.chdir(REPO)
        with open(os.path.join(REPO, 'setup.py'), encoding='utf-8') as f:
            exec(compile(f.read(), 'setup.py', 'exec'), {'__file__': os.path.join(REPO, 'setup.py')})
    finally:
        os.chdir(cwd)
        setuptools.setup = original
    packages = captured['packages']
    assert {p.split('.')[0] for p in packages} == {'imdb_tfx'}
    for folder in PACKAGE_FOLDERS:
        assert folder == 'imdb_tfx' or captured['package_dir'][f'imdb_tfx.{folder}'] == folder
    expected = {
        _package_name(os.path.relpath(root, REPO))
        for folder in PACKAGE_FOLDERS
        for root, _, files in os.walk(os.path.join(REPO, folder))
        if any(f.endswith('.py') for f in files)
    }
    assert expected - set(packages) == set()


def _package_name(folder: str) -> str:
    """imdb_tfx/report -> imdb_tfx.report; components/data_gate -> imdb_tfx.components.data_gate."""
    parts = folder.split(os.sep)
    return '.'.join(parts if parts[0] == 'imdb_tfx' else ['imdb_tfx', *parts])


@pytest.mark.parametrize('folder', PACKAGE_FOLDERS)
def test_code_imports_the_package_by_its_installed_name(folder):
    """`from pipeline import x` works from the source tree only."""
    old = re.compile(r'^\s*(from|import) (core|modules|components|pipeline|kubeflow)\b', re.MULTILINE)
    offenders = []
    for root, _, files in os.walk(os.path.join(REPO, folder)):
        for name in files:
            if name.endswith('.py'):
                with open(os.path.join(root, name), encoding='utf-8') as f:
                    if old.search(f.read()):
                        offenders.append(os.path.relpath(os.path.join(root, name), REPO))
    assert offenders == []
