"""`imdb-tfx simulate`: the continuous-training loop, shown on real reviews.

The source is cut into K spans (imdb_tfx/spans.py); they arrive one at a
time in a spans folder under the home, and after each the pipeline runs as
`imdb-tfx run --data` on it would. One span arrives drifted, the way a broken
feed would deliver it (only its 1- and 10-star reviews), and the drift gate
must stop it. Per span, the table and the plot say what the gate decided and
why: the drift measures, the eval accuracy with its interval against the
floor and the serving model, and which version serves afterwards.

    HOME/simulation/spans/      the source cut into K spans (kept: made once)
    HOME/simulation/drifted/    the drifted span as it arrives
    HOME/simulation/data/       the spans folder the pipeline reads (grows span by span)
    HOME/simulation/simulation.{md,json,png}
"""

import dataclasses
import glob
import json
import logging
import os
import shutil
from typing import Callable, List, Optional

import tensorflow as tf

from imdb_tfx import spans as spans_lib
from imdb_tfx.core import atomic, names, serving
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.home import Home

log = logging.getLogger(__name__)

# The broken feed: only the extremes of the star scale get through.
DRIFTED_RATINGS = (1, 10)
TABLE = 'simulation.md'
RESULTS = 'simulation.json'
PLOT = 'simulation.png'


@dataclasses.dataclass
class SpanResult:
    span: int
    drifted_on_purpose: bool
    labelled: int
    run_id: Optional[str]
    drift_status: Optional[str]
    reference_span: Optional[int]
    measures: List[dict]
    window: List[int]  # the spans the Trainer read
    accuracy: Optional[float]
    accuracy_interval: Optional[List[float]]
    serving_accuracy: Optional[float]  # the model serving before, on the same eval reviews
    min_accuracy: Optional[float]  # the gate's accuracy floor in that run
    decision: str
    rejected_by: List[str]
    pushed_version: Optional[str]
    serving_after: Optional[str]
    seconds: float


def default_drifted_span(spans: int) -> int:
    """The middle span (the second of two), so that the spans after it show the loop going on."""
    return spans // 2 + 1


def run(
    source: str,
    home: Home,
    spans: int,
    drifted_span: int,
    run_span: Callable[[str, int], None],
) -> List[SpanResult]:
    """Feeds SOURCE's K spans to the pipeline one by one; run_span(data,
    span) runs it once on the spans folder (raising when the run fails)."""
    from imdb_tfx import outcome
    from imdb_tfx.pipeline import configs
    from imdb_tfx.run_info import load_run, open_store

    if not 2 <= drifted_span <= spans:
        raise UserInputError(f'--drifted-span {drifted_span}: must be between 2 and {spans} (span 1 has no reference)')
    if os.path.exists(home.metadata_path):
        raise UserInputError(f'{home.root}: has runs already; simulate starts from a new home')
    root = os.path.join(home.root, 'simulation')
    cut = os.path.join(root, 'spans')
    if not (spans_lib.is_spans(cut) and len(spans_lib.span_numbers(cut)) == spans):
        spans_lib.prepare_spans(source, cut, spans)
    data = os.path.join(root, 'data')
    shutil.rmtree(data, ignore_errors=True)
    results = []
    for number in range(1, spans + 1):
        arriving = spans_lib.span_dir(cut, number)
        if number == drifted_span:
            arriving = drifted_copy(arriving, os.path.join(root, 'drifted'))
        entry = spans_lib.ingest(arriving, data)
        log.info('Span %d arrived: %d labelled reviews', number, entry['labelled'])
        try:
            run_span(data, number)
        except Exception as e:  # noqa: BLE001  (a stopped span is part of the loop; the run's record says why)
            log.info('Span %d: the run failed: %s', number, e)
        run = load_run(open_store(home.metadata_path), configs.PIPELINE_NAME)
        results.append(_result(number, number == drifted_span, entry, outcome.of_run(run), home))
        write(results, root)
    return results


def drifted_copy(span_folder: str, target: str) -> str:
    """The span as a broken feed delivers it: its labelled reviews with only
    DRIFTED_RATINGS stars, its unlabeled reviews unchanged."""
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.join(target, 'train'))
    kept = 0
    with tf.io.TFRecordWriter(os.path.join(target, 'train', 'data.tfrecord.gz'), 'GZIP') as writer:
        files = sorted(glob.glob(os.path.join(span_folder, 'train', '*')))
        for serialized in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator():
            rating = tf.train.Example.FromString(serialized).features.feature[names.RATING_FEATURE].int64_list.value
            if rating and rating[0] in DRIFTED_RATINGS:
                writer.write(serialized)
                kept += 1
    shutil.copytree(os.path.join(span_folder, 'unsup'), os.path.join(target, 'unsup'))
    log.info('Drifted copy of %s: %d labelled reviews rated %s', span_folder, kept, DRIFTED_RATINGS)
    return target


def _result(number, drifted_on_purpose, entry, result, home: Home) -> SpanResult:
    drift = result.drift or {}
    window_artifact = result.run.output(names.DRIFT_GATE, 'window')
    window = [int(n) for n in window_artifact.properties['spans'].split(',')] if window_artifact else []
    if result.failed_node == names.DRIFT_GATE:
        decision = 'stopped by the drift gate'
    elif result.failed_node:
        decision = f'failed at {result.failed_node}'
    elif result.pushed_path and not result.already_serving:
        decision = 'pushed'
    elif result.pushed_path:
        decision = 'already serving'
    else:
        decision = 'rejected by ' + ', '.join(result.rejected_by or ['the Evaluator'])
    newest = serving.newest(home.serving_dir)
    return SpanResult(
        span=number,
        drifted_on_purpose=drifted_on_purpose,
        labelled=entry['labelled'],
        run_id=result.run.run_id,
        drift_status=drift.get('status'),
        reference_span=drift.get('reference_span'),
        measures=drift.get('measures', []),
        window=window,
        accuracy=result.metrics.get('binary_accuracy'),
        accuracy_interval=list(result.interval('binary_accuracy') or []) or None,
        serving_accuracy=result.baseline_metrics.get('binary_accuracy'),
        min_accuracy=result.thresholds.get('min_accuracy'),
        decision=decision,
        rejected_by=result.rejected_by,
        pushed_version=os.path.basename(result.pushed_path.rstrip('/')) if result.pushed_path else None,
        serving_after=os.path.basename(newest) if newest else None,
        seconds=round(sum(n.seconds for n in result.run.nodes.values()), 1),
    )


def write(results: List[SpanResult], root: str) -> None:
    """The table (Markdown), the results (JSON) and the plot, rewritten after every span."""
    atomic.write_text(os.path.join(root, RESULTS), json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    atomic.write_text(os.path.join(root, TABLE), table(results))
    _plot(results, os.path.join(root, PLOT))


def _largest_drift(result: SpanResult) -> str:
    if not result.measures:
        return '-' if result.drift_status is None else 'first span'
    worst = max(result.measures, key=lambda m: m['distance'] / m['threshold'])
    return f'{worst["name"]} {worst["distance"]:.3f} / {worst["threshold"]:g}'


def table(results: List[SpanResult]) -> str:
    lines = [
        '| span | labelled | drift gate (vs span) | largest drift / threshold | trained on spans '
        '| eval accuracy [95%] | serving model, same reviews | decision | serving after |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for r in results:
        accuracy = '-'
        if r.accuracy is not None:
            low, high = r.accuracy_interval or (float('nan'), float('nan'))
            accuracy = f'{r.accuracy:.4f} [{low:.4f}, {high:.4f}]'
        gate = r.drift_status or '-'
        if r.reference_span is not None:
            gate += f' (vs {r.reference_span})'
        lines.append(
            f'| {r.span}{" (drifted on purpose)" if r.drifted_on_purpose else ""} | {r.labelled} | {gate} '
            f'| {_largest_drift(r)} | {", ".join(map(str, r.window)) or "-"} | {accuracy} '
            f'| {"-" if r.serving_accuracy is None else f"{r.serving_accuracy:.4f}"} | {r.decision} '
            f'| {r.serving_after or "-"} |'
        )
    return '\n'.join(lines) + '\n'


def _plot(results: List[SpanResult], path: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    colours = {'pushed': 'tab:green', 'stopped by the drift gate': 'tab:red'}
    for r in results:
        colour = colours.get(r.decision, 'tab:orange')
        if r.accuracy is not None:
            low, high = r.accuracy_interval
            top.errorbar(
                r.span, r.accuracy, yerr=[[r.accuracy - low], [high - r.accuracy]], fmt='o', color=colour, capsize=4
            )
        else:
            top.axvline(r.span, color=colour, alpha=0.3, linewidth=8)
        top.annotate(r.decision, (r.span, 0.02), xycoords=('data', 'axes fraction'), rotation=90, fontsize=8)
        if r.serving_accuracy is not None:
            top.plot(r.span, r.serving_accuracy, 'x', color='black')
    floors = {r.min_accuracy for r in results if r.min_accuracy is not None}
    if len(floors) == 1:
        top.axhline(floors.pop(), color='tab:red', linestyle='--', linewidth=1, label='accuracy floor')
        top.legend(fontsize=8, loc='lower right')
    top.set_ylabel('eval accuracy (newest span)')
    top.set_title('Per span: candidate (dot, 95% interval), serving model on the same reviews (x)')
    for name in sorted({m['name'] for r in results for m in r.measures}):
        points = [(r.span, m['distance'] / m['threshold']) for r in results for m in r.measures if m['name'] == name]
        bottom.plot(*zip(*points), 'o-', label=name)
    bottom.axhline(1.0, color='tab:red', linestyle='--', label='threshold')
    bottom.set_ylabel('drift / threshold')
    bottom.set_xlabel('span')
    bottom.set_xticks([r.span for r in results])
    bottom.legend(fontsize=8, loc='upper left')
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
