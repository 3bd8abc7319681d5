"""What the report shows, read from one run's ML Metadata and artifacts:
nothing is recomputed that an artifact already holds (TFMA's metrics and
plots, TFDV's statistics, the Trainer's history). Each section is None when
the run did not get that far."""

import collections
import dataclasses
import datetime
import json
import os
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from imdb_tfx import outcome as outcome_lib
from imdb_tfx.core import intervals, names
from imdb_tfx.core.names import CALIBRATION_FILE, HISTORY_FILE, REFIT_FILE, SELF_TRAINING_FILE
from imdb_tfx.run_info import Artifact, PipelineRun


@dataclasses.dataclass
class Header:
    run_id: str
    started: str
    total_seconds: float
    components: List[Tuple[str, str, float]]  # (node id, state, seconds)
    data_root: str
    source_path: str
    source_sha256: str
    hub_handle: str
    hyperparameters: Dict[str, object]
    verdict: str
    pushed: bool  # blessed and serving, now or already


@dataclasses.dataclass
class MetricRow:
    name: str
    candidate: float
    interval: Optional[Tuple[float, float]]  # 95%, for accuracy and AUC
    baseline: Optional[float]
    change: Optional[float]
    threshold: str  # '' when the metric has none
    result: str  # 'pass', 'FAIL' or ''


@dataclasses.dataclass
class Evaluation:
    rows: List[MetricRow]
    blessed: Optional[bool]
    failed_thresholds: List[str]
    confusion: Optional[Dict[str, float]]  # tn, fp, fn, tp at threshold 0.5
    buckets: Optional[Dict[str, List[float]]]  # edges, negatives, positives, mean_predicted
    slices: List[Tuple[str, float, int]]  # (rating, accuracy, reviews)
    min_accuracy: Optional[float]
    rules: List[dict]  # the gate's metric rules: the floors and no regression (Outcome.metric_rules)
    serving_accuracy: Optional[Tuple[float, float, float]]  # value, 95% interval
    comparison: Optional[outcome_lib.Comparison]
    max_accuracy_drop: float


@dataclasses.dataclass
class SplitData:
    name: str
    examples: int
    labels: Dict[object, int]  # 0, 1, and 'other' for a missing or malformed label
    lengths: np.ndarray  # words per review

    @property
    def odd_labels(self) -> int:
        return sum(count for label, count in self.labels.items() if label not in (0, 1))

    @property
    def median_length(self) -> float:
        return float(np.median(self.lengths)) if len(self.lengths) else 0.0


@dataclasses.dataclass
class Data:
    splits: List[SplitData]
    gate: str  # passed, failed, not run
    findings: List[str]
    drift: Optional[dict] = None  # runs on spans: outcome.Outcome.drift, and its one-line detail


@dataclasses.dataclass
class LineageRow:
    artifact: str  # type #id
    uri: str
    producer: str
    consumers: List[str]


@dataclasses.dataclass
class ReportData:
    header: Header
    history: Optional[Dict[str, List[float]]]
    self_training: Optional[dict]  # the Trainer's self_training.json, when it self-trained
    refit: Optional[dict]  # the Trainer's refit.json, when the exported model was refitted
    calibration: Optional[dict]  # the Trainer's calibration.json, when it calibrated
    evaluation: Optional[Evaluation]
    data: Optional[Data]
    lineage: List[LineageRow]


def collect(run: PipelineRun) -> ReportData:
    result = outcome_lib.of_run(run)
    return ReportData(
        header=_header(run, result),
        history=_trainer_json(run, HISTORY_FILE),
        self_training=_trainer_json(run, SELF_TRAINING_FILE),
        refit=_trainer_json(run, REFIT_FILE),
        calibration=_trainer_json(run, CALIBRATION_FILE),
        evaluation=_evaluation(run, result),
        data=_data(run, result),
        lineage=_lineage(run),
    )


def _header(run: PipelineRun, result: outcome_lib.Outcome) -> Header:
    example_gen = run.nodes.get(names.EXAMPLE_GEN)
    data_root = str(example_gen.properties.get('input_base', '')) if example_gen else ''
    manifest_path = os.path.join(data_root, 'manifest.json')
    source = {}
    if data_root and fileio.exists(manifest_path):
        source = json.loads(io_utils.read_string_file(manifest_path)).get('source', {})
    hyperparameters = _hyperparameters(run)
    ended = max((n.started + n.seconds for n in run.nodes.values()), default=run.started)
    return Header(
        run_id=run.run_id,
        started=datetime.datetime.fromtimestamp(run.started, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC'),
        total_seconds=ended - run.started,
        components=[(n.node_id, n.state, n.seconds) for n in run.nodes.values()],
        data_root=data_root,
        source_path=source.get('path', data_root),
        source_sha256=source.get('sha256', 'unknown (no prepare-data manifest)'),
        hub_handle=str(hyperparameters.get('hub_handle', 'unknown')),
        hyperparameters=hyperparameters,
        verdict=result.verdict,
        pushed=result.exit_code == outcome_lib.EXIT_PUSHED,
    )


def _hyperparameters(run: PipelineRun) -> Dict[str, object]:
    trainer = run.nodes.get(names.TRAINER)
    config = trainer.properties.get('custom_config') if trainer else None
    return json.loads(config) if config else {}


def _trainer_json(run: PipelineRun, name: str) -> Optional[dict]:
    """A JSON file the Trainer module wrote beside its TensorBoard logs."""
    model_run = run.output(names.TRAINER, 'model_run')
    path = os.path.join(model_run.uri, name) if model_run else ''
    if not path or not fileio.exists(path):
        return None
    return json.loads(io_utils.read_string_file(path))


def _evaluation(run: PipelineRun, result: outcome_lib.Outcome) -> Optional[Evaluation]:
    evaluation = run.output(names.EVALUATOR, 'evaluation')
    if evaluation is None:
        return None
    import tensorflow_model_analysis as tfma  # deferred: heavy import

    values = _tfma_values(evaluation.uri)
    return Evaluation(
        rows=_metric_rows(values, result),
        blessed=result.blessed,
        failed_thresholds=result.failed_thresholds,
        confusion=_confusion(values.get((), 'confusion_matrix_at_thresholds')),
        buckets=_calibration_buckets(tfma.load_plots(evaluation.uri), values.model),
        slices=_rating_slices(values),
        min_accuracy=result.floors.get('binary_accuracy'),
        rules=result.metric_rules(),
        serving_accuracy=_with_interval(result.baseline_metrics.get('binary_accuracy'), result.example_count),
        comparison=result.comparison,
        max_accuracy_drop=result.thresholds.get('max_accuracy_drop', 0.0),
    )


@dataclasses.dataclass(frozen=True)
class _TfmaValues:
    """Every value of a TFMA output: of each slice (() for the overall one),
    model, metric, and whether it is the change against the baseline."""

    by_key: Dict[Tuple[Tuple, str, str, bool], object]
    model: str  # the candidate's name: 'candidate' beside a baseline, '' alone

    def get(self, slice_key: Tuple, name: str, model: Optional[str] = None, is_diff: bool = False):
        return self.by_key.get((slice_key, self.model if model is None else model, name, is_diff))

    def number(self, slice_key: Tuple, name: str, model: Optional[str] = None, is_diff: bool = False):
        """None for a value that is not a number (the confusion matrix)."""
        value = self.get(slice_key, name, model, is_diff)
        return value.value if value is not None and hasattr(value, 'value') else None


def _tfma_values(evaluation_uri: str) -> _TfmaValues:
    import tensorflow_model_analysis as tfma  # deferred: heavy import

    by_key: Dict[Tuple[Tuple, str, str, bool], object] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        slice_key = tuple((k.column, _slice_value(k)) for k in metrics_for_slice.slice_key.single_slice_keys)
        for kv in metrics_for_slice.metric_keys_and_values:
            field = kv.value.WhichOneof('type')
            by_key[(slice_key, kv.key.model_name, kv.key.name, kv.key.is_diff)] = getattr(kv.value, field)
    model = 'candidate' if any(key[1] == 'candidate' for key in by_key) else ''
    return _TfmaValues(by_key, model)


def _metric_rows(values: _TfmaValues, result: outcome_lib.Outcome) -> List[MetricRow]:
    """The overall slice's metrics, candidate against baseline; a floored
    metric passes unless the Evaluator's failures name it."""
    failed = {reason.split(' ', 1)[0] for reason in result.failed_thresholds}  # each starts with its metric
    rows = []
    for name in sorted({key[2] for key in values.by_key if key[0] == () and key[1] == values.model}):
        candidate = values.number((), name)
        if candidate is None:
            continue  # a plot-like value (the confusion matrix), shown as a figure
        floor = result.floors.get(name)
        rows.append(
            MetricRow(
                name=name,
                candidate=candidate,
                interval=result.interval(name),
                baseline=values.number((), name, 'baseline'),
                change=values.number((), name, is_diff=True),
                threshold='' if floor is None else f'>= {floor:g}',
                result='' if floor is None else 'FAIL' if name in failed else 'pass',
            )
        )
    return rows


def _rating_slices(values: _TfmaValues) -> List[Tuple[str, float, int]]:
    """(rating, accuracy, reviews) per star rating, in the ratings' order."""
    slices = [
        (
            str(dict(slice_key)[names.RATING_FEATURE]),
            values.number(slice_key, 'binary_accuracy'),
            int(values.number(slice_key, 'example_count') or 0),
        )
        for slice_key, model, name, is_diff in values.by_key
        if slice_key and model == values.model and name == 'binary_accuracy' and not is_diff
    ]
    return sorted(slices, key=_rating_order)


def _rating_order(row) -> Tuple[int, int, str]:
    """Ratings that are integers first, by value; any other slice value after them, by name."""
    return (0, int(row[0]), '') if re.fullmatch('-?[0-9]{1,18}', row[0]) else (1, 0, row[0])


def _with_interval(accuracy: Optional[float], n: int) -> Optional[Tuple[float, float, float]]:
    if accuracy is None:
        return None
    return (accuracy, *intervals.clopper_pearson(round(accuracy * n), n))


def _slice_value(single_slice_key):
    return getattr(single_slice_key, single_slice_key.WhichOneof('kind'))


def _confusion(matrices) -> Optional[Dict[str, float]]:
    if matrices is None or not matrices.matrices:
        return None
    m = matrices.matrices[0]
    return {
        'threshold': m.threshold,
        'tn': m.true_negatives,
        'fp': m.false_positives,
        'fn': m.false_negatives,
        'tp': m.true_positives,
    }


def _calibration_buckets(plots, model: str) -> Optional[Dict[str, List[float]]]:
    """TFMA's calibration histogram of the overall slice: per bucket of
    predicted probability, the reviews (weighted examples), the positives
    among them (weighted labels) and the sum of predictions."""
    for plots_for_slice in plots:
        if plots_for_slice.slice_key.single_slice_keys:
            continue
        for kv in plots_for_slice.plot_keys_and_values:
            if kv.key.model_name != model or not kv.value.HasField('calibration_histogram_buckets'):
                continue
            # The first and last buckets catch predictions outside [0, 1]: none
            # from a sigmoid, so only the [0, 1] buckets are drawn.
            buckets = [
                b
                for b in kv.value.calibration_histogram_buckets.buckets
                if 0 <= b.lower_threshold_inclusive and b.upper_threshold_exclusive <= 1.0 + 1e-9
            ]
            counts = [b.num_weighted_examples.value for b in buckets]
            positives = [b.total_weighted_label.value for b in buckets]
            return {
                'edges': [b.lower_threshold_inclusive for b in buckets] + [buckets[-1].upper_threshold_exclusive],
                'positives': positives,
                'negatives': [n - p for n, p in zip(counts, positives)],
                'counts': counts,
                'mean_predicted': [
                    b.total_weighted_refined_prediction.value / n if n else None for b, n in zip(buckets, counts)
                ],
            }
    return None


def _data(run: PipelineRun, result: outcome_lib.Outcome) -> Optional[Data]:
    examples = run.output(names.EXAMPLE_GEN, 'examples')
    if examples is None:
        return None
    import tensorflow as tf

    split_names = [d[len('Split-') :].rstrip('/') for d in tf.io.gfile.listdir(examples.uri) if d.startswith('Split-')]
    splits = [_split_data(examples, name) for name in sorted(split_names, key=lambda n: (n != names.TRAIN, n))]
    gate = result.data_gate
    drift = dict(result.drift, detail=result.drift_detail()) if result.drift else None
    return Data(splits=splits, gate=gate, findings=result.data_gate_findings() if gate == 'failed' else [], drift=drift)


def _split_data(examples: Artifact, split: str) -> SplitData:
    """Labels and words per review of one split, read from ExampleGen's output.
    Parsed example by example: the report must also describe the bad data a
    failed run stopped on (a missing text, a label of the wrong type)."""
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(os.path.join(examples.uri, f'Split-{split}', '*')))
    lengths, labels = [], collections.Counter()
    for record in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature
        text = feature[names.TEXT_FEATURE].bytes_list.value if names.TEXT_FEATURE in feature else []
        lengths.append(len(text[0].split()) if text else 0)
        label = feature[names.LABEL_FEATURE].int64_list.value if names.LABEL_FEATURE in feature else []
        labels[int(label[0]) if len(label) == 1 else 'other'] += 1
    return SplitData(name=split, examples=len(lengths), labels=dict(labels), lengths=np.array(lengths, dtype=np.int64))


def _lineage(run: PipelineRun) -> List[LineageRow]:
    """Every artifact the run touched: who produced it (in this run, or an
    earlier one when cached or imported) and which components read it."""
    rows: Dict[int, LineageRow] = {}

    def row(artifact: Artifact) -> LineageRow:
        return rows.setdefault(
            artifact.id,
            LineageRow(
                artifact=f'{artifact.type} #{artifact.id}',
                uri=artifact.uri,
                producer='earlier run or import',
                consumers=[],
            ),
        )

    for node in run.nodes.values():
        for artifacts in node.outputs.values():
            for artifact in artifacts:
                row(artifact).producer = node.node_id + (' (cached)' if node.state == 'CACHED' else '')
    for node in run.nodes.values():
        for artifacts in node.inputs.values():
            for artifact in artifacts:
                row(artifact).consumers.append(node.node_id)
    return [rows[key] for key in sorted(rows)]
