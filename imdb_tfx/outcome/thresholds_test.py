"""The release gate's thresholds as the Evaluator is configured with them and
as `imdb-tfx gate` reads them back."""

import json

from google.protobuf import json_format

from imdb_tfx.core import names
from imdb_tfx.outcome import thresholds
from imdb_tfx.pipeline.config import GateConfig
from imdb_tfx.pipeline.eval_config import eval_config


def test_the_gate_reads_back_the_thresholds_it_was_given():
    config = eval_config(GateConfig(min_accuracy=0.8, max_accuracy_drop=0.02, regression_confidence=0.99))
    assert thresholds.configured_thresholds(json_format.MessageToJson(config)) == {
        'min_accuracy': 0.8,
        'max_accuracy_drop': 0.02,
        'regression_confidence': 0.99,
    }
    (paired,) = [m for m in config.metrics_specs[0].metrics if m.class_name == names.PAIRED_ACCURACY_METRIC]
    assert json.loads(paired.config) == {'confidence': 0.99}
    # Accuracy itself has no change threshold: a point difference alone rejects nothing.
    (accuracy,) = [m for m in config.metrics_specs[0].metrics if m.class_name == 'BinaryAccuracy']
    assert not accuracy.per_slice_thresholds[0].threshold.HasField('change_threshold')
    # Intervals come from counts (core/intervals.py): TFMA's jackknife would slow the Evaluator down.
    assert not config.options.compute_confidence_intervals.value


def test_a_floor_on_any_metric_is_read_back_under_the_name_of_its_values():
    gate = GateConfig(min_accuracy=0.8, metric_floors={'AUC': 0.95, 'BinaryAccuracy': 0.85})
    read = thresholds.gate_thresholds(json_format.MessageToJson(eval_config(gate)))
    # Two floors on accuracy: the stricter one decides, as it does in TFMA.
    assert read.floors == {'binary_accuracy': 0.85, 'auc': 0.95}
    assert list(read.as_dict()) == ['min_accuracy', 'min_auc', 'max_accuracy_drop', 'regression_confidence']
    assert read.as_dict()['min_auc'] == 0.95
