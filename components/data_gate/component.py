"""DataGate: stops the run when the data has anomalies or drifts, so that bad
data trains nothing and pushes nothing (ExampleValidator alone never fails)."""

import json
import os

from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils
from tensorflow_metadata.proto.v0 import schema_pb2

from components.data_gate import executor

REPORT_FILE = 'data_gate.json'


class DataGateResult(types.Artifact):
    """What the data gate checked; only written when the data passed."""
    TYPE_NAME = 'DataGateResult'


@component
def DataGate(
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    schema: InputArtifact[standard_artifacts.Schema],
    result: OutputArtifact[DataGateResult],
) -> None:
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    findings = executor.validator_findings(anomalies.uri, splits)
    stats_splits = artifact_utils.decode_split_names(statistics.split_names)
    if {executor.DRIFT_BASELINE_SPLIT, executor.DRIFT_SPLIT} <= set(stats_splits):
        schema_proto = io_utils.parse_pbtxt_file(
            os.path.join(schema.uri, 'schema.pbtxt'), schema_pb2.Schema())
        findings += executor.drift_findings(
            schema_proto,
            stats_artifact_utils.load_statistics(statistics, executor.DRIFT_BASELINE_SPLIT).proto(),
            stats_artifact_utils.load_statistics(statistics, executor.DRIFT_SPLIT).proto())
    executor.check(findings)
    io_utils.write_string_file(os.path.join(result.uri, REPORT_FILE), json.dumps(
        {'passed': True, 'splits': splits, 'checks': ['schema anomalies', 'eval vs train drift']}))
