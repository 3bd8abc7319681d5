"""The data gate's checks: every anomaly ExampleValidator found, per split,
and drift between the eval and train splits in what the schema's drift
comparators express (the label distribution)."""

import dataclasses
import os
from typing import List, Sequence

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx.dsl.io import fileio
from tfx.utils import io_utils

# ExampleValidator's output, per split (its DEFAULT_FILE_NAME, deprecated to import).
ANOMALIES_FILE = 'SchemaDiff.pb'
STATS_FILE = 'FeatureStats.pb'  # StatisticsGen's output, per split
DRIFT_BASELINE_SPLIT = 'train'
DRIFT_SPLIT = 'eval'


@dataclasses.dataclass(frozen=True)
class Finding:
    split: str
    feature: str
    kind: str
    description: str

    def __str__(self) -> str:
        return f'split {self.split}: {self.feature}: {self.kind}: {self.description}'


class DataGateError(RuntimeError):
    """The data is not fit to train on; the message lists every finding."""


# Features beyond the schema's are allowed (users' own data carries its own):
# the model reads text and label, and the schema still checks those.
IGNORED_KINDS = ('SCHEMA_NEW_COLUMN',)


def _findings(split: str, anomalies: anomalies_pb2.Anomalies, only_drift: bool = False):
    for feature, info in sorted(anomalies.anomaly_info.items()):
        for reason in info.reason:
            kind = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
            if kind in IGNORED_KINDS:
                continue
            if not only_drift or kind.startswith('COMPARATOR_'):
                yield Finding(split, feature, kind, reason.description or info.description)
    if not only_drift:
        for reason in anomalies.dataset_anomaly_info.reason:
            yield Finding(split, '(dataset)', anomalies_pb2.AnomalyInfo.Type.Name(reason.type), reason.description)


def validator_findings(anomalies_uri: str, splits: Sequence[str]) -> List[Finding]:
    """ExampleValidator's anomalies of each split (its SchemaDiff.pb files)."""
    findings = []
    for split in splits:
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(
            io_utils.read_bytes_file(os.path.join(anomalies_uri, f'Split-{split}', ANOMALIES_FILE))
        )
        findings.extend(_findings(split, anomalies))
    return findings


def drift_findings(
    schema: schema_pb2.Schema,
    train: statistics_pb2.DatasetFeatureStatisticsList,
    evaluation: statistics_pb2.DatasetFeatureStatisticsList,
) -> List[Finding]:
    """Drift of the eval split from the train split, per the schema's comparators."""
    anomalies = tfdv.validate_statistics(evaluation, schema, previous_statistics=train)
    return list(_findings(DRIFT_SPLIT, anomalies, only_drift=True))


def _splits(uri: str) -> List[str]:
    names = (name.rstrip('/') for name in fileio.listdir(uri))  # object stores: 'name/'
    return sorted(name[len('Split-') :] for name in names if name.startswith('Split-'))


def findings(statistics_uri: str, anomalies_uri: str, schema_uri: str) -> List[Finding]:
    """Every finding about the data, from the artifacts of StatisticsGen,
    ExampleValidator and the schema component (their URIs)."""
    found = validator_findings(anomalies_uri, _splits(anomalies_uri))
    if {DRIFT_BASELINE_SPLIT, DRIFT_SPLIT} <= set(_splits(statistics_uri)):
        schema = io_utils.parse_pbtxt_file(os.path.join(schema_uri, 'schema.pbtxt'), schema_pb2.Schema())
        train, evaluation = (
            tfdv.load_stats_binary(os.path.join(statistics_uri, f'Split-{split}', STATS_FILE))
            for split in (DRIFT_BASELINE_SPLIT, DRIFT_SPLIT)
        )
        found += drift_findings(schema, train, evaluation)
    return found


def check(findings: List[Finding]) -> None:
    if findings:
        raise DataGateError(
            f'data gate: {len(findings)} problem(s) in the data, nothing trained:\n'
            + '\n'.join(f'  - {f}' for f in findings)
        )
