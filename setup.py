"""imdb-tfx: a production TFX pipeline for IMDB sentiment classification."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent


def _requirements():
    lines = (HERE / 'requirements.txt').read_text().splitlines()
    return [line for line in lines if line and not line.startswith('#')]


setuptools.setup(
    name='imdb-tfx',
    version='0.1.0',
    description='TFX pipeline for IMDB sentiment classification with a TF-Hub text embedding',
    python_requires='>=3.10,<3.11',
    packages=setuptools.find_packages(
        include=['core*', 'imdb_tfx*', 'pipeline*', 'components*', 'modules*', 'kubeflow*', 'benchmarks*']
    ),
    package_data={'pipeline': ['schema/*.pbtxt'], 'imdb_tfx.report': ['*.html.j2']},
    # tensorflow-hub 0.16.1 is needed too but conflicts with tfx's pin: the
    # Makefile installs it with --no-deps (see README, "Installation").
    install_requires=_requirements(),
    entry_points={'console_scripts': ['imdb-tfx = imdb_tfx.cli:main']},
)
