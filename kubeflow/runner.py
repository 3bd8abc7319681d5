"""Compiles create_pipeline(...) with TFX's KubeflowV2DagRunner into the YAML
package that open-source Kubeflow Pipelines 2.x runs (kfp.Client())."""

import dataclasses
import inspect
import json
import os
from typing import Any, List, Mapping, Optional, Sequence

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from imdb_tfx.errors import UserInputError
from imdb_tfx.inputs import GLOVE_MODULE
from kubeflow.image import EMBEDDINGS_DIR, SCHEMA_FILE
from pipeline import configs, recipes
from pipeline.pipeline import ALWAYS_RUN, create_pipeline
from pipeline.recipes import EmbeddingSpec

# Beam's DirectRunner inside each task's pod, as in local runs.
DEFAULT_BEAM_ARGS = configs.LOCAL_BEAM_ARGS

# The run-time parameters, as named in the KFP UI and in submit(arguments=...).
DATA_ROOT = 'data-root'
HYPERPARAMETERS = 'hyperparameters'
CANARY_MAX_BATCH_SECONDS = 'canary-max-batch-seconds'
# create_pipeline's own default, so that both runners agree.
_CANARY_DEFAULT = inspect.signature(create_pipeline).parameters['canary_max_batch_seconds'].default


def image_hub_handle(embedding: EmbeddingSpec) -> str:
    """The recipe's embedding module as baked into the image: GloVe 6B 50d
    with the recipe's bigram buckets and combiner. A data vocabulary cannot be
    baked (the image has no data): the image keeps GloVe's whole vocabulary."""
    return f'{EMBEDDINGS_DIR}/{GLOVE_MODULE}{embedding.name_suffix}'


def compile_pipeline(
        output_path: str,
        image: str,
        pipeline_root: str,
        data_root: str,
        serving_dir: str,
        hub_handle: Optional[str] = None,
        recipe: str = recipes.DEFAULT_RECIPE,
        hyperparameters: Optional[Mapping[str, Any]] = None,
        min_accuracy: float = configs.MIN_ACCURACY,
        max_accuracy_drop: float = configs.MAX_ACCURACY_DROP,
        canary_max_batch_seconds: float = _CANARY_DEFAULT,
        split: str = configs.SPLIT,
        schema_file: Optional[str] = SCHEMA_FILE,
        beam_pipeline_args: Optional[Sequence[str]] = None,
        volumes: Optional[Mapping[str, str]] = None,
        enable_cache: bool = True) -> str:
    """Writes the package to output_path (.yaml) and returns that path.

    Paths are as the pods see them: data_root, hub_handle and schema_file are
    URLs or absolute paths (inside the image or on a volume); serving_dir is a
    POSIX directory (the Pusher renames into it), so a volume. volumes maps
    PersistentVolumeClaim names to mount paths, mounted into every task.
    hyperparameters overrides fields of the recipe's Hyperparameters; without
    hub_handle the recipe's module baked into the image is used; schema_file
    None infers the schema with SchemaGen. The Trainer's module is built into
    a wheel under pipeline_root: compiling needs write access to it.

    data_root, the hyperparameters and the canary's latency bound stay
    run-time parameters (DATA_ROOT, HYPERPARAMETERS, CANARY_MAX_BATCH_SECONDS)
    with these values as defaults."""
    if not output_path.endswith(('.yaml', '.yml')):
        # KubeflowV2DagRunner's other form, a PipelineJob JSON, is for Vertex AI.
        raise UserInputError(f'{output_path}: the package must be a .yaml file')
    for what, path in (('pipeline root', pipeline_root), ('data', data_root),
                       ('hub handle', hub_handle), ('schema file', schema_file)):
        if path and '://' not in path and not path.startswith('/'):
            raise UserInputError(f'{what} {path}: give a URL or an absolute path as the pods see it')
    if '://' in serving_dir or not serving_dir.startswith('/'):
        raise UserInputError(f'serving directory {serving_dir}: give an absolute path (on a volume)')

    preset = recipes.get(recipe)
    hparams = dataclasses.replace(preset.hyperparameters, **{
        'hub_handle': hub_handle or image_hub_handle(preset.embedding), **(hyperparameters or {})})
    parameters = [
        tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT, ptype=str, default=data_root,
            description='Prepared TFRecords (imdb-tfx prepare-data), as the pods see them'),
        tfx.dsl.experimental.RuntimeParameter(
            name=HYPERPARAMETERS, ptype=str, default=json.dumps(hparams.to_custom_config()),
            description='The Trainer\'s hyperparameters (modules/hparams.py), all fields as JSON'),
        tfx.dsl.experimental.RuntimeParameter(
            name=CANARY_MAX_BATCH_SECONDS, ptype=float, default=float(canary_max_batch_seconds),
            description='The serving canary\'s latency bound per batch'),
    ]
    pipeline = create_pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=pipeline_root,
        data_root=parameters[0],
        trainer_module_file=configs.TRAINER_MODULE_FILE,
        serving_dir=serving_dir,
        schema_file=schema_file,
        hyperparameters=parameters[1],
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
        canary_max_batch_seconds=parameters[2],
        split=split,
        train_eval_buckets=preset.train_eval_buckets,
        # Compiled in for the default hyperparameters; a run that turns
        # self-training off just leaves the unlabeled examples unread.
        use_unlabeled=hparams.self_trains,
        # No metadata_connection_config: KFP brings its own ML Metadata.
        beam_pipeline_args=list(beam_pipeline_args or DEFAULT_BEAM_ARGS),
        enable_cache=enable_cache)
    # Spec 2.1 (typed parameters, parameterValues) is what the KFP 2 backend
    # reads; its driver ignores 2.0's constantValue inputs.
    dag_runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image, use_pipeline_spec_2_1=True))
    job = dag_runner.run(pipeline, write_out=False)
    spec = json_format.ParseDict(job['pipelineSpec'], pipeline_spec_pb2.PipelineSpec())
    _adapt_for_kfp(spec, pipeline_root, parameters)

    documents = [spec] + ([_volume_mounts(spec, volumes)] if volumes else [])
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, 'w', encoding='utf-8') as f:
        yaml.safe_dump_all([json_format.MessageToDict(d) for d in documents], f, sort_keys=True)
    return output_path


def _adapt_for_kfp(spec: pipeline_spec_pb2.PipelineSpec, pipeline_root: str,
                   parameters: List[tfx.dsl.experimental.RuntimeParameter]) -> None:
    """What open-source KFP needs that TFX leaves out of the PipelineSpec, or
    puts in for Vertex AI only."""
    # TFX keeps both in the PipelineJob's runtime config, which the YAML drops.
    spec.default_pipeline_root = pipeline_root
    for parameter in parameters:
        definition = spec.root.input_definitions.parameters[parameter.name]
        json_format.ParseDict(parameter.default, definition.default_value)
        definition.is_optional = True
        definition.description = parameter.description
    # TFX only has a pipeline-wide cache switch (see local_runner.compile_ir).
    for name, task in spec.root.dag.tasks.items():
        if name in ALWAYS_RUN:
            task.caching_options.enable_cache = False
    # ExampleGen's driver is a lifecycle hook that only Vertex AI runs; the
    # executor reads input_config itself, and our patterns have no {SPAN}.
    for executor in spec.deployment_spec['executors'].values():
        if 'lifecycle' in executor['container']:
            del executor['container']['lifecycle']


def _volume_mounts(spec: pipeline_spec_pb2.PipelineSpec,
                   volumes: Mapping[str, str]) -> pipeline_spec_pb2.PlatformSpec:
    """The Kubernetes platform spec (what kfp-kubernetes' mount_pvc writes)
    mounting each claim into every task."""
    platform = pipeline_spec_pb2.PlatformSpec()
    executors = platform.platforms['kubernetes'].deployment_spec.executors
    for label in spec.deployment_spec['executors'].keys():
        executors[label].update({'pvcMount': [
            {'constant': claim, 'mountPath': path} for claim, path in volumes.items()]})
    return platform
