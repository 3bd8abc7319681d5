"""The local runner's partial runs and run ids, on the compiled pipeline
(no run: compiling takes a second)."""

import datetime
import os
import tempfile

import pytest

from conftest import default_pipeline
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.pipeline import configs, local_runner


@pytest.fixture(scope='module')
def ir():
    return local_runner.compile_ir(default_pipeline())


def test_a_partial_run_starts_from_the_newest_earlier_run(ir):
    options = local_runner.partial_run_options(ir, ['Evaluator'], ['Pusher'])
    assert list(options.partial_run.from_nodes) == ['Evaluator']
    assert list(options.partial_run.to_nodes) == ['Pusher']
    assert options.partial_run.snapshot_settings.HasField('latest_pipeline_run_strategy')


def test_an_unknown_node_is_named_with_the_pipelines_nodes(ir):
    with pytest.raises(UserInputError) as error:
        local_runner.partial_run_options(ir, ['Evaluater'], [])
    assert str(error.value).startswith('no node Evaluater in the pipeline (nodes: ImportExampleGen, ')
    assert 'Evaluator' in str(error.value)


def test_the_serving_baseline_is_never_served_from_the_cache(ir):
    caching = {n.pipeline_node.node_info.id: n.pipeline_node.execution_options.caching_options for n in ir.nodes}
    assert not caching['ServingBaseline'].enable_cache
    assert caching['Trainer'].enable_cache


def test_run_ids_are_the_start_time_as_the_local_runner_writes_it():
    before = datetime.datetime.now()
    run_id = local_runner.new_run_id()
    assert before <= datetime.datetime.fromisoformat(run_id) <= datetime.datetime.now()


def test_the_local_beam_args_keep_tfx_from_packaging_itself_in_the_temp_folder(tmp_path, monkeypatch):
    from tfx.utils import dependency_utils

    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    assert dependency_utils.make_beam_dependency_flags(configs.LOCAL_BEAM_ARGS) == configs.LOCAL_BEAM_ARGS
    assert os.listdir(tmp_path) == []
    assert os.path.isfile(configs.SETUP_FILE)
