"""The release gate's thresholds as the Evaluator is configured with them and
as `imdb-tfx gate` reads them back."""

import json

from google.protobuf import json_format

from imdb_tfx import outcome
from imdb_tfx.core import names
from imdb_tfx.pipeline import pipeline


def test_the_gate_reads_back_the_thresholds_it_was_given():
    config = pipeline.eval_config(min_accuracy=0.8, max_accuracy_drop=0.02, regression_confidence=0.99)
    assert outcome.configured_thresholds(json_format.MessageToJson(config)) == {
        'min_accuracy': 0.8,
        'max_accuracy_drop': 0.02,
        'regression_confidence': 0.99,
    }
    (paired,) = [m for m in config.metrics_specs[0].metrics if m.class_name == names.PAIRED_ACCURACY_METRIC]
    assert json.loads(paired.config) == {'confidence': 0.99}
    # Accuracy itself has no change threshold: a point difference alone rejects nothing.
    (accuracy,) = [m for m in config.metrics_specs[0].metrics if m.class_name == 'BinaryAccuracy']
    assert not accuracy.per_slice_thresholds[0].threshold.HasField('change_threshold')
    # Intervals from counts: TFMA's jackknife made the Evaluator 5-10x slower.
    assert not config.options.compute_confidence_intervals.value
