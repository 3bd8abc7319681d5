"""Our custom TFX components, one folder each (component.py, executor.py, tests)."""

import core  # noqa: F401  (Keras 2 for TensorFlow, before anything imports it)

# Kubeflow resolves custom artifact types by TYPE_NAME, `components.<Class>`.
_ARTIFACT_TYPES = {
    'DataGateResult': 'components.data_gate.component',
    'TextEmbeddingModule': 'components.embedding_builder.component',
}


def __getattr__(name):
    # Resolved lazily, so that importing one component (e.g. the canary's
    # probe process) does not import them all.
    if name in _ARTIFACT_TYPES:
        import importlib

        return getattr(importlib.import_module(_ARTIFACT_TYPES[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
