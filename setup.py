"""imdb-tfx: a production TFX pipeline for IMDB sentiment classification.

The wheel installs one top-level package, imdb_tfx. The repository keeps the
folders TFX users know (pipeline/, components/, modules/, kubeflow/, core/)
at its root; package_dir maps each into imdb_tfx's namespace, so nothing of
ours can shadow another distribution (`kubeflow` is Kubeflow's own SDKs')."""

import pathlib
import re

import setuptools
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).parent
SUBPACKAGES = ('core', 'modules', 'components', 'pipeline', 'kubeflow')


def _requirements():
    lines = (HERE / 'requirements.txt').read_text().splitlines()
    return [line for line in lines if line and not line.startswith('#')]


def _packages():
    """imdb_tfx and its subpackages, each folder's packages under imdb_tfx."""
    packages = setuptools.find_packages(include=['imdb_tfx', 'imdb_tfx.*'])
    for folder in SUBPACKAGES:
        packages += [f'imdb_tfx.{p}' for p in setuptools.find_packages(include=[folder, f'{folder}.*'])]
    return packages


class BuildPyWithoutTests(build_py):
    """Leaves the *_test.py files beside the code out of the wheel: they run
    from the source tree, with its conftest.py."""

    def find_package_modules(self, package, package_dir):
        return [m for m in super().find_package_modules(package, package_dir) if not m[1].endswith('_test')]


def _version():
    return re.search(r"^__version__ = '([^']+)'", (HERE / 'imdb_tfx' / '__init__.py').read_text(), re.M).group(1)


setuptools.setup(
    name='imdb-tfx',
    version=_version(),
    description='TFX pipeline for IMDB sentiment classification with a TF-Hub text embedding',
    python_requires='>=3.10,<3.11',
    packages=_packages(),
    package_dir={'imdb_tfx': 'imdb_tfx', **{f'imdb_tfx.{p}': p for p in SUBPACKAGES}},
    package_data={'imdb_tfx.pipeline': ['schema/*.pbtxt'], 'imdb_tfx.report': ['*.html.j2']},
    # tensorflow-hub 0.16.1 is needed too but conflicts with tfx's pin: the
    # Makefile installs it with --no-deps (docs/install.md says why).
    install_requires=_requirements(),
    cmdclass={'build_py': BuildPyWithoutTests},
    entry_points={'console_scripts': ['imdb-tfx = imdb_tfx.cli:main']},
)
