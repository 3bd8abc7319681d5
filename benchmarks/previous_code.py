"""A module of the project as it was at an earlier commit, read from git, so
that a benchmark can run the code it replaced beside today's."""

import importlib.util
import os
import subprocess

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(commit: str, path: str, work_dir: str):
    """PATH (a file of the repository, e.g. modules/text_embedding.py) as it
    was at COMMIT, imported as a module of its own."""
    name = 'previous_' + os.path.splitext(os.path.basename(path))[0]
    source = subprocess.run(['git', '-C', REPOSITORY, 'show', f'{commit}:{path}'], capture_output=True, check=True)
    copy = os.path.join(work_dir, f'{name}.py')
    with open(copy, 'wb') as f:
        f.write(source.stdout)
    spec = importlib.util.spec_from_file_location(name, copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
