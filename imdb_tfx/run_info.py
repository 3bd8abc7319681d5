"""What a local run did, read back from ML Metadata: its components, their
state and wall time, and the artifacts they consumed and produced."""

import dataclasses
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from imdb_tfx.core import metadata_store
from imdb_tfx.core.errors import UserInputError

_STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
_EVENT_INPUTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
_EVENT_OUTPUTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)


@dataclasses.dataclass(frozen=True)
class Artifact:
    id: int
    type: str
    uri: str
    properties: Dict[str, object]  # custom properties as plain Python values


@dataclasses.dataclass(frozen=True)
class NodeRun:
    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING, ...
    started: float  # seconds since the epoch
    seconds: float  # wall time as MLMD recorded it
    inputs: Dict[str, List[Artifact]]
    outputs: Dict[str, List[Artifact]]
    properties: Dict[str, object]


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    run_id: str
    started: float
    nodes: Dict[str, NodeRun]  # in start order

    def output(self, node_id: str, key: str) -> Optional[Artifact]:
        node = self.nodes.get(node_id)
        artifacts = node.outputs.get(key, []) if node else []
        return artifacts[0] if artifacts else None

    @property
    def failed_nodes(self) -> List[NodeRun]:
        return [n for n in self.nodes.values() if n.state in ('FAILED', 'CANCELED', 'RUNNING')]


def open_store(metadata_path: str) -> mlmd.MetadataStore:
    """The store, read-only; a missing or damaged one is a UserInputError
    that names the file (core/metadata_store.py)."""
    if not os.path.exists(metadata_path):
        raise UserInputError(f'{metadata_path}: no metadata store (has the pipeline run here?)')
    metadata_store.check(metadata_path)
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def _value(value: metadata_store_pb2.Value):
    kind = value.WhichOneof('value')
    return getattr(value, kind) if kind else None


def _properties(proto) -> Dict[str, object]:
    return {k: _value(v) for k, v in proto.custom_properties.items()}


def has_unpackaged_components(store: mlmd.MetadataStore) -> bool:
    """Whether runs of the layout before the one installed package (its
    custom components typed `components.*`, now `imdb_tfx.components.*`)
    executed in this store: none of their results is reused from the cache."""
    return any(t.name.startswith('components.') for t in store.get_execution_types())


def run_ids(store: mlmd.MetadataStore, pipeline_name: str) -> List[str]:
    """Run ids of the pipeline, newest first."""
    pipeline = store.get_context_by_type_and_name('pipeline', pipeline_name)
    runs = store.get_children_contexts_by_context(pipeline.id) if pipeline else []
    return [c.name for c in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id), reverse=True)]


def load_run(store: mlmd.MetadataStore, pipeline_name: str, run_id: Optional[str] = None) -> Optional[PipelineRun]:
    """The given run, or the newest; None when the pipeline never ran."""
    ids = run_ids(store, pipeline_name)
    if not ids:
        return None
    run_id = run_id or ids[0]
    context = store.get_context_by_type_and_name('pipeline_run', run_id)
    if context is None:
        raise UserInputError(f'run {run_id}: not in the metadata store (runs: {", ".join(ids)})')
    executions = sorted(store.get_executions_by_context(context.id), key=lambda e: (e.create_time_since_epoch, e.id))
    nodes = {}
    for execution in executions:
        node = _node_run(store, pipeline_name, execution)
        nodes[node.node_id] = node
    started = min((n.started for n in nodes.values()), default=context.create_time_since_epoch / 1e3)
    return PipelineRun(run_id=run_id, started=started, nodes=nodes)


def _node_run(store, pipeline_name: str, execution) -> NodeRun:
    prefix = pipeline_name + '.'
    node_id = next(
        c.name[len(prefix) :] for c in store.get_contexts_by_execution(execution.id) if c.name.startswith(prefix)
    )
    events = store.get_events_by_execution_ids([execution.id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id(list({e.artifact_id for e in events}))}
    types = (
        {t.id: t.name for t in store.get_artifact_types_by_id(list({a.type_id for a in artifacts.values()}))}
        if artifacts
        else {}
    )
    inputs, outputs = {}, {}
    for event in events:
        side = inputs if event.type in _EVENT_INPUTS else outputs if event.type in _EVENT_OUTPUTS else None
        if side is None or not event.path.steps:
            continue
        a = artifacts[event.artifact_id]
        # One event names every input key an artifact was given under (an
        # accepted span is both the Trainer's examples and its unlabeled examples).
        for key in {step.key for step in event.path.steps if step.HasField('key')}:
            side.setdefault(key, []).append(
                Artifact(id=a.id, type=types[a.type_id], uri=a.uri, properties=_properties(a))
            )
    return NodeRun(
        node_id=node_id,
        state=_STATE_NAMES.get(execution.last_known_state, 'UNKNOWN'),
        started=execution.create_time_since_epoch / 1e3,
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3,
        inputs=inputs,
        outputs=outputs,
        properties=_properties(execution),
    )
