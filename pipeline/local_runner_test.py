"""The local runner's partial runs and run ids, on the compiled pipeline
(no run: compiling takes a second)."""

import datetime

import pytest

from core.errors import UserInputError
from modules.hparams import Hyperparameters
from pipeline import configs, local_runner
from pipeline.pipeline import create_pipeline


@pytest.fixture(scope='module')
def ir(tmp_path_factory):
    root = tmp_path_factory.mktemp('pipeline')
    return local_runner.compile_ir(
        create_pipeline(
            pipeline_name=configs.PIPELINE_NAME,
            pipeline_root=str(root / 'tfx'),
            data_root=str(root / 'data'),
            serving_dir=str(root / 'serving'),
            schema_file=configs.SCHEMA_FILE,
            hyperparameters=Hyperparameters(hub_handle='/modules/tiny'),
            min_accuracy=configs.MIN_ACCURACY,
            max_accuracy_drop=configs.MAX_ACCURACY_DROP,
            regression_confidence=configs.REGRESSION_CONFIDENCE,
            canary_max_batch_seconds=configs.CANARY_MAX_BATCH_SECONDS,
            split=configs.SPLIT,
            split_buckets=configs.SPLIT_BUCKETS,
            trainer_module_file=configs.TRAINER_MODULE_FILE,
        )
    )


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
