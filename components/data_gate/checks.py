"""The data gate's checks: every anomaly ExampleValidator found, per split,
and drift between each pair of labelled splits (train, valid, eval) in what
the schema's drift comparators express (the label distribution).

A comparator's distance alone cannot tell drift from the noise of small
splits, whose label share moves by chance, so a drift finding also needs the
value counts to differ beyond noise: a chi-square test of homogeneity with
p < DRIFT_P_VALUE. Reviews of one movie tend to agree, and the splits are made
of whole movies, so each split's counts are first scaled to its effective
number of independent reviews (Kish's n^2 / sum of squared reviews per movie,
from StatisticsGen's movie_id histogram; conservative: as if a movie's reviews
always agreed). A split of a few movies with many reviews each weighs as far
fewer reviews than it holds."""

import dataclasses
import itertools
import os
from typing import Dict, List, Sequence

import tensorflow_data_validation as tfdv
from scipy import stats
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from imdb_tfx.core import names

# ExampleValidator's output, per split (its DEFAULT_FILE_NAME, deprecated to import).
ANOMALIES_FILE = 'SchemaDiff.pb'
STATS_FILE = 'FeatureStats.pb'  # StatisticsGen's output, per split
DRIFT_P_VALUE = 0.001


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
    baseline: statistics_pb2.DatasetFeatureStatisticsList,
    other: statistics_pb2.DatasetFeatureStatisticsList,
    pair: str,
) -> List[Finding]:
    """Drift of `other` from `baseline`, per the schema's comparators; pair
    names the two splits in the findings ('valid vs train')."""
    anomalies = tfdv.validate_statistics(other, schema, previous_statistics=baseline)
    return [f for f in _findings(pair, anomalies, only_drift=True) if _beyond_noise(baseline, other, f.feature)]


def _value_counts(statistics: statistics_pb2.DatasetFeatureStatisticsList, feature: str) -> Dict[str, float]:
    for candidate in statistics.datasets[0].features:
        if '.'.join(candidate.path.step) == feature:
            return {b.label: b.sample_count for b in candidate.string_stats.rank_histogram.buckets}
    return {}


def effective_share(statistics: statistics_pb2.DatasetFeatureStatisticsList) -> float:
    """Kish's effective sample size over the number of reviews, for reviews
    clustered by movie (1.0 without movie ids): n / sum of squared cluster
    sizes, the reviews outside the movie_id histogram counted as singletons."""
    dataset = statistics.datasets[0]
    counts = _value_counts(statistics, names.MOVIE_FEATURE)
    n = dataset.num_examples
    if not counts or not n:
        return 1.0
    squares = sum(c * c for c in counts.values()) + max(0.0, n - sum(counts.values()))
    return n / squares


def _beyond_noise(
    baseline: statistics_pb2.DatasetFeatureStatisticsList,
    other: statistics_pb2.DatasetFeatureStatisticsList,
    feature: str,
) -> bool:
    """Whether the feature's value counts differ beyond sampling noise (kept
    when the statistics have no counts to test)."""
    counts = _value_counts(baseline, feature), _value_counts(other, feature)
    values = sorted(set(counts[0]) | set(counts[1]))
    if len(values) < 2 or not all(counts):
        return True
    shares = effective_share(baseline), effective_share(other)
    table = [[c.get(v, 0.0) * share for v in values] for c, share in zip(counts, shares)]
    return stats.chi2_contingency(table).pvalue < DRIFT_P_VALUE


def _splits(uri: str) -> List[str]:
    names = (name.rstrip('/') for name in fileio.listdir(uri))  # object stores: 'name/'
    return sorted(name[len('Split-') :] for name in names if name.startswith('Split-'))


def findings(statistics_uri: str, anomalies_uri: str, schema_uri: str) -> List[Finding]:
    """Every finding about the data, from the artifacts of StatisticsGen,
    ExampleValidator and the schema component (their URIs)."""
    found = validator_findings(anomalies_uri, _splits(anomalies_uri))
    labelled = [split for split in names.LABELLED_SPLITS if split in _splits(statistics_uri)]
    if len(labelled) > 1:
        schema = io_utils.parse_pbtxt_file(os.path.join(schema_uri, 'schema.pbtxt'), schema_pb2.Schema())
        stats = {
            split: tfdv.load_stats_binary(os.path.join(statistics_uri, f'Split-{split}', STATS_FILE))
            for split in labelled
        }
        for baseline, other in itertools.combinations(labelled, 2):
            found += drift_findings(schema, stats[baseline], stats[other], f'{other} vs {baseline}')
    return found


def check(findings: List[Finding]) -> None:
    if findings:
        raise DataGateError(
            f'data gate: {len(findings)} problem(s) in the data, nothing trained:\n'
            + '\n'.join(f'  - {f}' for f in findings)
        )
