"""`imdb-tfx report`: one self-contained HTML file per run (images inline as
data URIs, no script, no external reference), to open anywhere or attach to
a release."""

import os
from typing import Optional, Sequence

import jinja2

from imdb_tfx import run_info
from imdb_tfx.core import atomic
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.home import Home
from imdb_tfx.report import collect, plots

_TEMPLATE = 'template.html.j2'


def default_path(home: Home, run_id: str) -> str:
    return os.path.join(home.reports_dir, f'{run_id}.html')


def write(
    home: Home,
    pipeline_name: str,
    run_id: Optional[str] = None,
    output: Optional[str] = None,
    notes: Sequence[str] = (),
) -> str:
    """Renders the run (default: the newest) to `output` (default: under the
    home's reports/), atomically; returns the path. notes: what the run
    command decided for the data at hand (e.g. self-training off)."""
    run = run_info.load_run(run_info.open_store(home.metadata_path), pipeline_name, run_id)
    if run is None:
        raise UserInputError(f'{home.metadata_path}: no run of {pipeline_name} to report on')
    data = collect.collect(run)
    html = render(data, notes)
    path = os.path.abspath(output or default_path(home, run.run_id))
    atomic.write_text(path, html)
    return path


def render(data: collect.ReportData, notes: Sequence[str] = ()) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(__file__)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    history = data.history or {}
    return environment.get_template(_TEMPLATE).render(
        h=data.header,
        notes=list(notes),
        epochs=len(history.get('loss', [])),
        best_epoch=max(enumerate(history['val_accuracy'], start=1), key=lambda e: e[1])
        if history.get('val_accuracy')
        else None,
        training_plots=[
            plots.training_curve(history, metric, title)
            for metric, title in (('loss', 'Loss'), ('accuracy', 'Accuracy'))
            if metric in history
        ],
        self_training=data.self_training,
        refit=data.refit,
        calibration=data.calibration,
        e=data.evaluation,
        evaluation_plots=_evaluation_plots(data.evaluation),
        d=data.data,
        length_plot=plots.length_distribution({s.name: s.lengths for s in data.data.splits})
        if data.data and data.data.splits
        else None,
        lineage=data.lineage,
    )


def _evaluation_plots(evaluation: Optional[collect.Evaluation]):
    if evaluation is None:
        return []
    figures = []
    accuracy = next((row for row in evaluation.rows if row.name == 'binary_accuracy'), None)
    if accuracy is not None and accuracy.interval:
        c = evaluation.comparison
        figures.append(
            plots.gate_accuracy(
                (accuracy.candidate, *accuracy.interval),
                evaluation.serving_accuracy,
                evaluation.min_accuracy,
                (c.difference, c.lower, c.upper) if c else None,
                evaluation.max_accuracy_drop,
            )
        )
    if evaluation.confusion:
        c = evaluation.confusion
        figures.append(plots.confusion_matrix(c['tn'], c['fp'], c['fn'], c['tp']))
    if evaluation.buckets:
        b = evaluation.buckets
        figures.append(plots.probability_histogram(b['edges'], b['negatives'], b['positives']))
        filled = [i for i, n in enumerate(b['counts']) if n]
        figures.append(
            plots.calibration(
                [b['mean_predicted'][i] for i in filled],
                [b['positives'][i] / b['counts'][i] for i in filled],
                [b['counts'][i] for i in filled],
            )
        )
    if evaluation.slices:
        figures.append(
            plots.slice_accuracy(
                [s[0] for s in evaluation.slices], [s[1] for s in evaluation.slices], evaluation.min_accuracy
            )
        )
    return figures
