"""The data gate's checks on real TFDV statistics, against the curated schema;
its artifacts read from TensorFlow's in-memory filesystem (ram://), which
stands in for object storage: any local-only call (open, os.*) on it fails."""

import os
import uuid

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils

from imdb_tfx.components.data_gate import checks

# The curated schema (pipeline/configs.SCHEMA_FILE; a component does not import the pipeline).
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), '..', '..', 'pipeline', 'schema', 'schema.pbtxt')
SCHEMA = io_utils.parse_pbtxt_file(SCHEMA_FILE, schema_pb2.Schema())


def stats(positives: int, negatives: int, out_of_domain: int = 0, reviews_per_movie: int = 0):
    """Statistics as StatisticsGen computes them: with the schema, so the
    categorical label gets a value distribution (and movie_id, when given,
    its histogram: each movie's reviews share one label)."""
    labels = [1] * positives + [0] * negatives + [2] * out_of_domain
    columns = {'text': ['a review'] * len(labels), 'label': labels}
    if reviews_per_movie:
        columns['movie_id'] = [f'tt{i // reviews_per_movie:07d}' for i in range(len(labels))]
    return tfdv.generate_statistics_from_dataframe(pd.DataFrame(columns), tfdv.StatsOptions(schema=SCHEMA))


@pytest.fixture(scope='module')
def schema():
    return SCHEMA


def test_splits_of_whole_movies_weigh_as_their_movies(schema):
    """0.12 apart in label share on 1,000 and 3,500 reviews: beyond noise as
    independent reviews, within it as 40 and 140 movies of 25 reviews each."""
    assert checks.effective_share(stats(440, 560, reviews_per_movie=25)) == pytest.approx(1 / 25)
    assert checks.effective_share(stats(440, 560)) == 1.0
    assert checks.drift_findings(schema, stats(2170, 1330), stats(490, 510), 'eval vs train')
    assert (
        checks.drift_findings(
            schema, stats(2175, 1325, reviews_per_movie=25), stats(500, 500, reviews_per_movie=25), 'eval vs train'
        )
        == []
    )


def test_balanced_splits_do_not_drift(schema):
    assert checks.drift_findings(schema, stats(500, 500), stats(208, 192), 'eval vs train') == []


def test_a_skewed_eval_split_is_label_drift(schema):
    (finding,) = checks.drift_findings(schema, stats(500, 500), stats(320, 80), 'eval vs train')
    assert (finding.split, finding.feature, finding.kind) == ('eval vs train', 'label', 'COMPARATOR_L_INFTY_HIGH')
    assert '0.3' in finding.description  # 80% vs 50% positives


def test_small_splits_apart_by_noise_do_not_drift(schema):
    """0.2 apart in label share, but on 200 and 100 reviews: within noise."""
    assert checks.drift_findings(schema, stats(110, 90), stats(35, 65), 'eval vs valid') == []
    # The same shares on 20x the reviews are drift.
    (finding,) = checks.drift_findings(schema, stats(2200, 1800), stats(700, 1300), 'eval vs valid')
    assert finding.kind == 'COMPARATOR_L_INFTY_HIGH'


def test_check_lists_every_finding():
    findings = [
        checks.Finding('train', 'label', 'INT_TYPE_BIG_INT', 'Out-of-range values'),
        checks.Finding('eval', 'text', 'FEATURE_TYPE_LOW_FRACTION_PRESENT', 'Low presence'),
    ]
    checks.check([])
    with pytest.raises(checks.DataGateError) as error:
        checks.check(findings)
    assert 'split train: label: INT_TYPE_BIG_INT' in str(error.value)
    assert 'split eval: text: FEATURE_TYPE_LOW_FRACTION_PRESENT' in str(error.value)


def write_artifacts(schema, splits) -> str:
    """StatisticsGen's, ExampleValidator's and the schema's outputs for
    {split: statistics}, laid out as those components write them, on
    TensorFlow's in-memory filesystem; returns their root."""
    root = f'ram://{uuid.uuid4().hex}'
    for split, statistics in splits.items():
        io_utils.write_bytes_file(
            f'{root}/statistics/Split-{split}/{checks.STATS_FILE}', statistics.SerializeToString()
        )
        io_utils.write_bytes_file(
            f'{root}/anomalies/Split-{split}/{checks.ANOMALIES_FILE}',
            tfdv.validate_statistics(statistics, schema).SerializeToString(),
        )
    io_utils.write_pbtxt_file(f'{root}/schema/schema.pbtxt', schema)
    return root


def findings(root: str):
    found = checks.findings(f'{root}/statistics', f'{root}/anomalies', f'{root}/schema')
    return [(f.split, f.feature, f.kind) for f in found]


def test_findings_read_the_artifacts_on_object_storage(schema):
    root = write_artifacts(
        schema, {'train': stats(500, 500), 'valid': stats(52, 48), 'eval': stats(300, 80, out_of_domain=20)}
    )
    assert findings(root) == [
        ('eval', 'label', 'INT_TYPE_BIG_INT'),
        ('eval vs train', 'label', 'COMPARATOR_L_INFTY_HIGH'),
        ('eval vs valid', 'label', 'COMPARATOR_L_INFTY_HIGH'),
    ]


@pytest.mark.parametrize(
    'columns, feature, kind',
    [
        ({'text': ['a review'] * 10, 'label': [0, 1] * 4 + [2, 1]}, 'label', 'INT_TYPE_BIG_INT'),
        ({'text': ['a review'] * 9 + [None], 'label': [0, 1] * 5}, 'text', 'FEATURE_TYPE_LOW_FRACTION_PRESENT'),
        ({'text': ['a review'] * 10, 'label': [b'0', b'1'] * 5}, 'label', 'UNEXPECTED_DATA_TYPE'),
    ],
)
def test_each_kind_of_bad_review_in_train_is_a_finding(schema, columns, feature, kind):
    """A label of 2, a review without text, labels written as bytes."""
    bad = tfdv.generate_statistics_from_dataframe(pd.DataFrame(columns), tfdv.StatsOptions(schema=SCHEMA))
    root = write_artifacts(schema, {'train': bad, 'valid': stats(5, 5), 'eval': stats(5, 5)})
    assert ('train', feature, kind) in findings(root)
