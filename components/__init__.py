"""Our custom TFX components, one folder each (component.py, executor.py, tests)."""


def __getattr__(name):
    # Kubeflow resolves custom artifact types as `components.<Class>`; resolved
    # lazily so that importing one component (e.g. the canary's probe process)
    # does not import them all.
    if name == 'DataGateResult':
        from components.data_gate.component import DataGateResult
        return DataGateResult
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
