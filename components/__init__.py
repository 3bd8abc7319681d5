"""Our custom TFX components, one folder each (component.py, executor.py, tests)."""

# Kubeflow resolves custom artifact types as `components.<Class>`.
from components.data_gate.component import DataGateResult  # noqa: E402,F401
