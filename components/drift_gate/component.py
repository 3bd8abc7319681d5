"""DriftGate: stops a run whose newest span of reviews drifted from the span
accepted before it, before anything trains on it; passes the span on when it
did not.

Outputs, only when the span passed:
- `accepted`: the span (its labelled splits and, when given, its unlabeled
  reviews as one more split), carrying the span number. Later runs compare
  with it and train on it; a stopped span is neither.
- `window`: what the Trainer reads, the train, valid and unlabeled splits of
  the newest `window_spans` accepted spans (this one and the earlier ones
  TFX's rolling span range resolved), copied into one Examples artifact."""

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
    return [io_utils.all_files_pattern(os.path.join(examples_uri, f'Split-{s}')) for s in names.LABELLED_SPLITS]


def _copy_window(spans: list, window) -> None:
    """Every span's window splits into one artifact, files renamed by span."""
    splits = [split for split in WINDOW_SPLITS if all(split in _splits(a) for a in spans)]
    for split in splits:
        target = os.path.join(window.uri, f'Split-{split}')
        for artifact in spans:
            source = os.path.join(artifact.uri, f'Split-{split}')
            span = artifact.get_int_custom_property(names.SPAN_PROPERTY)
            for name in fileio.listdir(source):
                io_utils.copy_file(os.path.join(source, name), os.path.join(target, f'span-{span}-{name}'))
    window.split_names = artifact_utils.encode_split_names(splits)
    window.set_string_custom_property(
        WINDOW_SPANS, ','.join(str(n) for n in sorted(a.get_int_custom_property(names.SPAN_PROPERTY) for a in spans))
    )


def _splits(artifact) -> list:
    return artifact_utils.decode_split_names(artifact.split_names)


def newest_spans(spans: list, count: int, besides: int) -> list:
    """The newest COUNT accepted spans other than span BESIDES (the newest
    artifact of a span accepted more than once), newest first."""
    by_span = {}
    for artifact in sorted(spans, key=lambda a: a.mlmd_artifact.create_time_since_epoch):
        by_span[artifact.get_int_custom_property(names.SPAN_PROPERTY)] = artifact
    by_span.pop(besides, None)
    return [by_span[span] for span in sorted(by_span, reverse=True)[:count]]


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
        earlier = ledger.accepted_spans(span_ledger)
        reference = max(earlier, key=lambda a: a.mlmd_artifact.create_time_since_epoch, default=None)
    span = examples.get_int_custom_property(names.SPAN_PROPERTY)
    reference_span = reference.get_int_custom_property(names.SPAN_PROPERTY) if reference is not None else None
    compared, measures = findings(
        examples.uri,
        span,
        reference.uri if reference is not None else None,
        reference_span,
        baseline.uri,
        json.loads(thresholds),
    )
    drifted = [m for m in measures if m.drifted]
    if drifted:
        # Raising fails the execution on every runner; `imdb-tfx gate`
        # recomputes the measures from the same inputs to say why.
        raise DriftError(f'span {span} drifted from span {compared[0]}: ' + '; '.join(str(m) for m in drifted))
    splits = list(names.LABELLED_SPLITS)
    for split in names.LABELLED_SPLITS:
        io_utils.copy_dir(os.path.join(examples.uri, f'Split-{split}'), os.path.join(accepted.uri, f'Split-{split}'))
    if unlabeled_examples is not None:
        io_utils.copy_dir(
            os.path.join(unlabeled_examples.uri, f'Split-{names.UNLABELED}'),
            os.path.join(accepted.uri, f'Split-{names.UNLABELED}'),
        )
        splits.append(names.UNLABELED)
    accepted.split_names = artifact_utils.encode_split_names(splits)
    accepted.set_int_custom_property(names.SPAN_PROPERTY, span)
    accepted.set_int_custom_property(names.VERSION_PROPERTY, examples.get_int_custom_property(names.VERSION_PROPERTY))
    _copy_window([accepted, *newest_spans(earlier or [], window_spans - 1, besides=span)], window)
    io_utils.write_string_file(
        os.path.join(accepted.uri, REPORT_FILE),
        json.dumps(
            {
                'span': span,
                'reference_span': compared[0] if compared else None,
                'reference_uri': compared[1] if compared else None,
                'measures': [dict(vars(m), drifted=m.drifted) for m in measures],
            },
            indent=2,
        ),
    )
    if span_ledger:  # last: only a complete accepted span is recorded
        ledger.record(span_ledger, accepted)
