"""The report's figures: matplotlib (Agg, no display), each returned as a
PNG data URI so the HTML file carries its images inside itself."""

import base64
import io
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

_SIZE = (5.6, 3.4)
_CLASS_COLOURS = {'negative': '#c0392b', 'positive': '#2471a3'}


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format='png', dpi=90)
    plt.close(figure)
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def training_curve(history: Dict[str, List[float]], metric: str, title: str) -> str:
    """`metric` and `val_metric` per epoch, as Keras' History records them."""
    figure, axes = plt.subplots(figsize=_SIZE)
    for key, label in ((metric, 'training'), (f'val_{metric}', 'validation (valid split)')):
        if key in history:
            values = history[key]
            axes.plot(range(1, len(values) + 1), values, marker='o', markersize=3, label=label)
    axes.set(xlabel='epoch', ylabel=metric, title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    return _data_uri(figure)


def confusion_matrix(tn: float, fp: float, fn: float, tp: float) -> str:
    matrix = np.array([[tn, fp], [fn, tp]])
    figure, axes = plt.subplots(figsize=(3.8, 3.4))
    axes.imshow(matrix, cmap='Blues')
    for (row, col), count in np.ndenumerate(matrix):
        axes.text(
            col,
            row,
            f'{count:,.0f}',
            ha='center',
            va='center',
            color='white' if count > matrix.max() / 2 else 'black',
            fontsize=12,
        )
    axes.set_xticks([0, 1], ['negative', 'positive'])
    axes.set_yticks([0, 1], ['negative', 'positive'])
    axes.set(xlabel='predicted (threshold 0.5)', ylabel='true label', title='Confusion matrix')
    return _data_uri(figure)


def probability_histogram(edges: Sequence[float], negatives: Sequence[float], positives: Sequence[float]) -> str:
    """Predicted P(positive) per true class, from the calibration buckets."""
    figure, axes = plt.subplots(figsize=_SIZE)
    widths = np.diff(edges)
    for counts, name in ((negatives, 'negative'), (positives, 'positive')):
        axes.bar(
            edges[:-1], counts, width=widths, align='edge', alpha=0.6, color=_CLASS_COLOURS[name], label=f'true {name}'
        )
    axes.set(xlabel='predicted P(positive)', ylabel='reviews', title='Predicted probability per true class')
    axes.legend()
    return _data_uri(figure)


def calibration(mean_predicted: Sequence[float], positive_rate: Sequence[float], counts: Sequence[float]) -> str:
    figure, axes = plt.subplots(figsize=_SIZE)
    axes.plot([0, 1], [0, 1], linestyle='--', color='grey', label='perfectly calibrated')
    axes.scatter(
        mean_predicted,
        positive_rate,
        s=10 + 90 * np.asarray(counts) / max(max(counts), 1),
        label='bins (area: reviews)',
    )
    axes.plot(mean_predicted, positive_rate, alpha=0.5)
    axes.set(
        xlabel='mean predicted P(positive)', ylabel='fraction positive', xlim=(0, 1), ylim=(0, 1), title='Calibration'
    )
    axes.legend(loc='upper left')
    return _data_uri(figure)


def gate_accuracy(
    candidate: Sequence[float],
    serving: Optional[Sequence[float]],
    floor: Optional[float],
    difference: Optional[Sequence[float]],
    allowed_drop: float,
) -> str:
    """The release gate's figures with their 95% intervals as error bars:
    each model's accuracy against the floor and, beside it, the paired
    difference against minus the allowed drop. Each figure is (value, lower, upper)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.4), gridspec_kw={'width_ratios': [2, 1]})
    models = [('candidate', candidate)] + ([('serving', serving)] if serving else [])
    for x, (name, (value, low, high)) in enumerate(models):
        left.errorbar([x], [value], yerr=[[value - low], [high - value]], fmt='o', capsize=6, label=name)
    if floor is not None:
        left.axhline(floor, color='#c0392b', linestyle='--', label=f'floor {floor:g}')
    left.set_xticks(range(len(models)), [name for name, _ in models])
    left.set(xlim=(-0.6, len(models) - 0.4), ylabel='accuracy (eval split)', title='Accuracy, 95% interval')
    left.grid(alpha=0.3, axis='y')
    left.legend(loc='lower right', fontsize='small')
    if difference:
        value, low, high = difference
        right.errorbar([0], [value], yerr=[[value - low], [high - value]], fmt='o', capsize=6, color='#5d6d7e')
        right.axhline(-allowed_drop, color='#c0392b', linestyle='--', label='rejected below')
        right.axhline(0, color='grey', linewidth=0.8)
        right.legend(loc='lower right', fontsize='small')
    else:
        right.text(0, 0, 'first push:\nno serving model', ha='center', va='center')
    right.set_xticks([0], ['candidate - serving'])
    right.set(xlim=(-0.8, 0.8), title='Paired difference')
    right.grid(alpha=0.3, axis='y')
    return _data_uri(figure)


def slice_accuracy(names: Sequence[str], accuracies: Sequence[float], floor: float = None) -> str:
    figure, axes = plt.subplots(figsize=_SIZE)
    axes.bar(names, accuracies, color='#5d6d7e')
    if floor is not None:
        axes.axhline(floor, color='#c0392b', linestyle='--', label=f'overall floor {floor}')
        axes.legend(loc='lower right')
    axes.set(xlabel='rating (stars)', ylabel='accuracy', ylim=(0, 1), title='Accuracy per rating slice')
    return _data_uri(figure)


def length_distribution(lengths_by_split: Dict[str, np.ndarray]) -> str:
    """Words per review, per split (log-spaced bins: a review may be a line or many paragraphs)."""
    figure, axes = plt.subplots(figsize=_SIZE)
    longest = max((lengths.max() for lengths in lengths_by_split.values() if len(lengths)), default=1)
    bins = np.logspace(0, np.log10(max(longest, 10)) + 0.01, 40)
    for split, lengths in lengths_by_split.items():
        axes.hist(lengths, bins=bins, histtype='step', linewidth=1.5, density=True, label=split)
    axes.set_xscale('log')
    axes.set(xlabel='words per review', ylabel='density', title='Review length per split')
    axes.legend()
    return _data_uri(figure)
