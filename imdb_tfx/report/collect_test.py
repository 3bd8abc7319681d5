"""The report's readers of files beside the artifacts, on TensorFlow's
in-memory filesystem (ram://), which stands in for object storage: any
local-only call (open, os.*) on it fails."""

import json
import uuid

from tfx.utils import io_utils

from imdb_tfx.core import names
from imdb_tfx.core.names import HISTORY_FILE, SELF_TRAINING_FILE
from imdb_tfx.report import collect
from imdb_tfx.run_info import Artifact, NodeRun, PipelineRun


def _node(node_id: str, properties: dict, outputs: dict) -> NodeRun:
    return NodeRun(
        node_id=node_id, state='COMPLETE', started=1.0, seconds=2.0, inputs={}, outputs=outputs, properties=properties
    )


def test_the_manifest_and_the_trainer_files_are_read_from_object_storage():
    root = f'ram://{uuid.uuid4().hex}'
    io_utils.write_string_file(
        f'{root}/data/manifest.json', json.dumps({'source': {'path': 'aclImdb.tar.gz', 'sha256': 'abc123'}})
    )
    history = {'loss': [0.6, 0.4], 'val_binary_accuracy': [0.8, 0.85]}
    io_utils.write_string_file(f'{root}/model_run/{HISTORY_FILE}', json.dumps(history))
    io_utils.write_string_file(f'{root}/model_run/{SELF_TRAINING_FILE}', json.dumps({'rounds': 2}))
    model_run = Artifact(id=1, type='ModelRun', uri=f'{root}/model_run', properties={})
    run = PipelineRun(
        run_id='run-1',
        started=1.0,
        nodes={
            names.EXAMPLE_GEN: _node(names.EXAMPLE_GEN, {'input_base': f'{root}/data'}, {}),
            names.TRAINER: _node(names.TRAINER, {'custom_config': '{"epochs": 2}'}, {'model_run': [model_run]}),
        },
    )

    report = collect.collect(run)

    assert (report.header.source_path, report.header.source_sha256) == ('aclImdb.tar.gz', 'abc123')
    assert report.history == history
    assert report.self_training == {'rounds': 2}
