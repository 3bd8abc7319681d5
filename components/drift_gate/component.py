"""DriftGate: stops a run whose newest span of reviews drifted from the span
accepted before it, before anything trains on it; passes the span on when it
did not.

Outputs, only when the span passed:
- `accepted`: the span (its labelled splits and, when given, its unlabeled
  reviews as one more split), carrying the span number. Later runs compare
  with it and train on it; a stopped span is neither.
- `window`: what the Trainer reads, the train, valid and unlabeled splits of
  the newest `window_spans` accepted spans (this one and the earlier ones
  TFX's rolling span range resolved, or the ledger recorded), copied into one
  Examples artifact."""

import json
import os
from typing import List, Optional

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from imdb_tfx.components.drift_gate import ledger
from imdb_tfx.components.drift_gate import profile as span_profile
from imdb_tfx.core import names

REPORT_FILE = 'drift.json'  # in the accepted artifact: what it was compared with, and the measures
WINDOW_SPANS = 'spans'  # the window's custom property: its span numbers, e.g. "1,3"
WINDOW_SPLITS = (names.TRAIN, names.VALID, names.UNLABELED)


class DriftError(RuntimeError):
    """The newest span drifted past a threshold; the message names each measure."""


def vocabulary_path(baseline_uri: str) -> Optional[str]:
    """The serving model's vocabulary file (ServingBaseline's copy), if any."""
    path = os.path.join(baseline_uri, 'Format-Serving', 'assets', 'vocab.txt')
    return path if fileio.exists(path) else None


def findings(
    examples_uri: str,
    span: int,
    reference_uri: Optional[str],
    reference_span: Optional[int],
    baseline_uri: str,
    thresholds: dict,
):
    """((reference span, its URI) or None, measures): the newest span against
    the newest accepted one (reference_uri), or, when that is this very span
    accepted before (a re-run), against what it was compared with then."""
    if reference_uri is not None and reference_span == span:
        earlier = json.loads(io_utils.read_string_file(os.path.join(reference_uri, REPORT_FILE)))
        reference_uri, reference_span = earlier['reference_uri'], earlier['reference_span']
    if reference_uri is None:
        return None, []
    vocabulary_file = vocabulary_path(baseline_uri)
    measures = span_profile.compare(
        span_profile.profile(_labelled_files(examples_uri)),
        span_profile.profile(_labelled_files(reference_uri)),
        thresholds,
        span_profile.read_vocabulary(vocabulary_file) if vocabulary_file else None,
    )
    return (reference_span, reference_uri), measures


def _labelled_files(examples_uri: str):
    return [io_utils.all_files_pattern(_split_dir(examples_uri, s)) for s in names.LABELLED_SPLITS]


def _split_dir(uri: str, split: str) -> str:
    return os.path.join(uri, f'Split-{split}')


def _span(artifact) -> int:
    return artifact.get_int_custom_property(names.SPAN_PROPERTY)


def _created(artifact) -> int:
    return artifact.mlmd_artifact.create_time_since_epoch


def _splits(artifact) -> list:
    return artifact_utils.decode_split_names(artifact.split_names)


def _spans_from_ledger(span_ledger: str):
    """(reference, earlier) as the resolver functions would give them over ML
    Metadata: the newest accepted span, and every accepted span."""
    earlier = ledger.accepted_spans(span_ledger)
    return max(earlier, key=_created, default=None), earlier


def _compare_with_reference(examples, reference, baseline, thresholds: str):
    """findings() for DriftGate's artifacts; reference is None on the first span."""
    return findings(
        examples.uri,
        _span(examples),
        reference.uri if reference is not None else None,
        _span(reference) if reference is not None else None,
        baseline.uri,
        json.loads(thresholds),
    )


def _stop_if_drifted(span: int, compared, measures: list) -> None:
    """Raises DriftError naming each measure over its threshold."""
    drifted = [m for m in measures if m.drifted]
    if drifted:
        # Raising fails the execution on every runner; `imdb-tfx gate`
        # recomputes the measures from the same inputs to say why.
        raise DriftError(f'span {span} drifted from span {compared[0]}: ' + '; '.join(str(m) for m in drifted))


def _accept(examples, unlabeled_examples, accepted) -> None:
    """The span's labelled splits and, when given, its unlabeled reviews as one
    more split, with the span's number and version: what later runs compare
    with and train on."""
    splits = list(names.LABELLED_SPLITS)
    for split in names.LABELLED_SPLITS:
        _copy_split(examples, split, accepted)
    if unlabeled_examples is not None:
        _copy_split(unlabeled_examples, names.UNLABELED, accepted)
        splits.append(names.UNLABELED)
    accepted.split_names = artifact_utils.encode_split_names(splits)
    accepted.set_int_custom_property(names.SPAN_PROPERTY, _span(examples))
    accepted.set_int_custom_property(names.VERSION_PROPERTY, examples.get_int_custom_property(names.VERSION_PROPERTY))


def _copy_split(source, split: str, target) -> None:
    io_utils.copy_dir(_split_dir(source.uri, split), _split_dir(target.uri, split))


def _window_spans(accepted, earlier: Optional[list], window_spans: int) -> list:
    """This span and the newest `window_spans - 1` other accepted spans: a
    re-run span is in the window once, as this run's artifact."""
    return [accepted, *newest_spans(earlier or [], window_spans - 1, besides=_span(accepted))]


def newest_spans(spans: list, count: int, besides: int) -> list:
    """The newest COUNT accepted spans other than span BESIDES (the newest
    artifact of a span accepted more than once), newest first."""
    by_span = {}
    for artifact in sorted(spans, key=_created):
        by_span[_span(artifact)] = artifact
    by_span.pop(besides, None)
    return [by_span[span] for span in sorted(by_span, reverse=True)[:count]]


def _write_window(spans: list, window) -> None:
    """Every span's window splits into one artifact. Each span's ExampleGen
    names its files alike, so the copies are prefixed with the span number."""
    splits = [split for split in WINDOW_SPLITS if all(split in _splits(a) for a in spans)]
    for split in splits:
        for artifact in spans:
            source = _split_dir(artifact.uri, split)
            for name in fileio.listdir(source):
                target = os.path.join(_split_dir(window.uri, split), f'span-{_span(artifact)}-{name}')
                io_utils.copy_file(os.path.join(source, name), target)
    window.split_names = artifact_utils.encode_split_names(splits)
    window.set_string_custom_property(WINDOW_SPANS, ','.join(str(n) for n in sorted(_span(a) for a in spans)))


def _write_report(accepted, compared, measures: list) -> None:
    """REPORT_FILE: what the span was compared with (a re-run of it is compared
    with the same span), and every measure."""
    reference_span, reference_uri = compared or (None, None)
    report = {
        'span': _span(accepted),
        'reference_span': reference_span,
        'reference_uri': reference_uri,
        'measures': [dict(vars(m), drifted=m.drifted) for m in measures],
    }
    io_utils.write_string_file(os.path.join(accepted.uri, REPORT_FILE), json.dumps(report, indent=2))


@component
def DriftGate(
    examples: InputArtifact[standard_artifacts.Examples],
    baseline: InputArtifact[standard_artifacts.Model],
    accepted: OutputArtifact[standard_artifacts.Examples],
    window: OutputArtifact[standard_artifacts.Examples],
    thresholds: Parameter[str],
    window_spans: Parameter[int],
    reference: InputArtifact[standard_artifacts.Examples] = None,
    earlier: InputArtifact[List[standard_artifacts.Examples]] = None,
    unlabeled_examples: InputArtifact[standard_artifacts.Examples] = None,
    span_ledger: Parameter[str] = None,
) -> None:
    """thresholds: JSON {measure: largest distance allowed} (profile.MEASURES).
    window_spans: how many accepted spans, this one included, the window holds.
    reference, earlier: the newest accepted span, the newest `window_spans`
    accepted spans, as TFX resolved them from ML Metadata. span_ledger (in
    their place, where nothing resolves earlier runs' artifacts): a folder
    where accepted spans are recorded (ledger.py), read for both."""
    if span_ledger:
        reference, earlier = _spans_from_ledger(span_ledger)
    span = _span(examples)
    compared, measures = _compare_with_reference(examples, reference, baseline, thresholds)
    _stop_if_drifted(span, compared, measures)
    _accept(examples, unlabeled_examples, accepted)
    _write_window(_window_spans(accepted, earlier, window_spans), window)
    _write_report(accepted, compared, measures)
    if span_ledger:  # last: only a complete accepted span is recorded
        ledger.record(span_ledger, accepted)
