"""imdb-tfx: IMDB sentiment classification as a TFX pipeline.

One installed package. The repository's folders are its subpackages
(setup.py maps them): core (what every layer shares), modules (the user
modules that run inside TFX components), components (our custom TFX
components), pipeline (create_pipeline and the local runner), kubeflow (the
Kubeflow Pipelines runner); this folder holds the command line and the tools
around the pipeline. docs/architecture.md draws the layers."""

from imdb_tfx import core  # noqa: F401  (Keras 2 for TensorFlow, before anything imports it)

__version__ = '0.2.0'

# Kubeflow's task entrypoint finds a custom artifact type by its TYPE_NAME,
# `<namespace>.<Class>` (one dot: KFP's schema title), as `from imdb_tfx import <Class>`.
_ARTIFACT_TYPES = {
    'DataGateResult': 'imdb_tfx.components.data_gate.component',
    'TextEmbeddingModule': 'imdb_tfx.components.embedding_builder.component',
}


def __getattr__(name):
    # Resolved lazily, so that importing the package imports no component.
    if name in _ARTIFACT_TYPES:
        import importlib

        return getattr(importlib.import_module(_ARTIFACT_TYPES[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
