"""DataGate: stops the run when the data has anomalies or drifts, so that bad
data trains nothing and pushes nothing (ExampleValidator alone never fails)."""

import json
import os

from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from imdb_tfx.components.data_gate import checks

REPORT_FILE = 'data_gate.json'


class DataGateResult(types.Artifact):
    """What the data gate checked; only written when the data passed."""

    # Kubeflow imports a custom type by this `module.Class` name in the pod.
    TYPE_NAME = 'imdb_tfx.DataGateResult'


@component
def DataGate(
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    schema: InputArtifact[standard_artifacts.Schema],
    result: OutputArtifact[DataGateResult],
) -> None:
    # Raising fails the execution on every runner (KFP ignores returned
    # ExecutorOutput codes); `imdb-tfx gate` recomputes the findings from the
    # same artifacts to say why.
    checks.check(checks.findings(statistics.uri, anomalies.uri, schema.uri))
    io_utils.write_string_file(
        os.path.join(result.uri, REPORT_FILE),
        json.dumps({'passed': True, 'checks': ['schema anomalies per split', 'eval vs train drift']}),
    )
