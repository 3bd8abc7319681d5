"""The accepted-spans ledger: DriftGate's record of the spans it accepted, for
runners that cannot resolve earlier runs' artifacts from ML Metadata
(open-source Kubeflow Pipelines runs no resolver nodes). LocalDagRunner uses
TFX's span resolution instead (pipeline/pipeline.py).

One small JSON file per accepted span, named
`<created ms>-span-<N>-<id>.json` (a random id, so that two entries of one
millisecond never share a name), written whole (core.atomic) on TFX's file
layer (local, gs://, s3://) after the accepted artifact is complete; it
points at that artifact."""

import json
import os
import re
import time
import uuid
from typing import List

from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from imdb_tfx.core import atomic, names

_ENTRY = re.compile(r'^(?P<created>[0-9]+)-span-(?P<span>[0-9]+)-[0-9a-f]{8}\.json$')


def record(ledger_dir: str, accepted: standard_artifacts.Examples) -> str:
    """Adds the accepted artifact to the ledger; returns the entry's path."""
    created = int(time.time() * 1000)
    span = accepted.get_int_custom_property(names.SPAN_PROPERTY)
    path = os.path.join(ledger_dir, f'{created:013d}-span-{span}-{uuid.uuid4().hex[:8]}.json')
    entry = {
        'span': span,
        'version': accepted.get_int_custom_property(names.VERSION_PROPERTY),
        'uri': accepted.uri,
        'split_names': accepted.split_names,
        'created_ms': created,
    }
    atomic.write_text(path, json.dumps(entry, indent=2))
    return path


def accepted_spans(ledger_dir: str) -> List[standard_artifacts.Examples]:
    """Every accepted span in the ledger as the Examples artifact DriftGate
    wrote (uri, splits, span and version, creation time), oldest first; none
    when the ledger does not exist yet."""
    if not fileio.isdir(ledger_dir):
        return []
    artifacts = []
    for name in sorted(entry.rstrip('/') for entry in fileio.listdir(ledger_dir)):
        if not _ENTRY.match(name):
            continue  # a write in progress (atomic's hidden sibling) or a foreign file
        with fileio.open(os.path.join(ledger_dir, name), 'r') as f:
            entry = json.load(f)
        artifact = standard_artifacts.Examples()
        artifact.uri = entry['uri']
        artifact.split_names = entry['split_names']
        artifact.set_int_custom_property(names.SPAN_PROPERTY, entry['span'])
        artifact.set_int_custom_property(names.VERSION_PROPERTY, entry['version'])
        artifact.mlmd_artifact.create_time_since_epoch = entry['created_ms']
        artifacts.append(artifact)
    return artifacts
