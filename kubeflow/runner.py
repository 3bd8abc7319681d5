"""Compiles create_pipeline(...) with TFX's KubeflowV2DagRunner into the YAML
package that open-source Kubeflow Pipelines 2.x runs (kfp.Client())."""

import dataclasses
import json
import os
from typing import List, Mapping, Optional, Sequence

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from imdb_tfx.core import names, s3
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.kubeflow.image import EMBEDDINGS_DIR, GLOVE_DIR
from imdb_tfx.kubeflow.locations import check as locations_check
from imdb_tfx.kubeflow.s3_settings import S3Settings
from imdb_tfx.pipeline import configs
from imdb_tfx.pipeline.config import GateConfig, Locations, PipelineConfig, TrainingConfig
from imdb_tfx.pipeline.pipeline import ALWAYS_RUN, create_pipeline
from imdb_tfx.pipeline.recipes import EmbeddingSpec

# What every task runs: TFX's executor entrypoint, s3:// registered and its
# exit status kept (kubeflow/entrypoint.py).
ENTRYPOINT = ['python', '-m', 'imdb_tfx.kubeflow.entrypoint']

# The run-time parameters, as named in the KFP UI and in submit(arguments=...).
DATA_ROOT = 'data-root'
HYPERPARAMETERS = 'hyperparameters'
CANARY_MAX_BATCH_SECONDS = 'canary-max-batch-seconds'

# Spans (--window): where DriftGate records the accepted spans, under the
# pipeline root beside the runs; and the tasks KFP must not cache, since its
# cache key sees their parameters but not what they read: the data root's
# newest span (locally, TFX's driver fingerprints the files) and the ledger.
SPAN_LEDGER_DIR = 'accepted-spans'
SPANS_ALWAYS_RUN = (names.EXAMPLE_GEN, names.UNLABELED_EXAMPLE_GEN, names.DRIFT_GATE)


def span_ledger(pipeline_root: str) -> str:
    """The accepted-spans ledger of a pipeline root (components/drift_gate/ledger.py)."""
    return '/'.join([pipeline_root.rstrip('/'), configs.PIPELINE_NAME, SPAN_LEDGER_DIR])


def default_beam_args(image: str) -> List[str]:
    """Beam's DirectRunner inside each task's pod, as in local runs; the image
    holds every dependency (and saying so keeps TFX from building a package of
    itself in each task, pipeline/configs.py)."""
    return [*configs.DIRECT_RUNNER_ARGS, f'--sdk_container_image={image}']


def image_hub_handle(embedding: EmbeddingSpec) -> str:
    """The recipe's embedding module as baked into the image: GloVe 6B 50d
    with the recipe's bigram buckets and combiner (for a recipe whose module
    does not depend on the data)."""
    return f'{EMBEDDINGS_DIR}/{embedding.module_name}'


def image_training(training: TrainingConfig) -> TrainingConfig:
    """The Trainer as the image runs it: run_fn by import path, and the
    recipe's module built in the pipeline from the image's GloVe wheel when
    it depends on the data, else baked into the image."""
    training = dataclasses.replace(training, module_file=None, run_fn=configs.TRAINER_RUN_FN, glove_dir=GLOVE_DIR)
    if training.embedding is None or training.embedding.data_vocabulary:
        return training
    hyperparameters = dataclasses.replace(training.hyperparameters, hub_handle=image_hub_handle(training.embedding))
    return dataclasses.replace(training, hyperparameters=hyperparameters, embedding=None)


def _runtime_parameters(locations: Locations, training: TrainingConfig, gate: GateConfig):
    """DATA_ROOT, HYPERPARAMETERS and CANARY_MAX_BATCH_SECONDS, with the
    compiled values as their defaults."""
    return [
        tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT,
            ptype=str,
            default=locations.data_root,
            description='Prepared TFRecords (imdb-tfx prepare-data), as the pods see them',
        ),
        tfx.dsl.experimental.RuntimeParameter(
            name=HYPERPARAMETERS,
            ptype=str,
            default=json.dumps(training.hyperparameters.to_custom_config()),
            description="The Trainer's hyperparameters (modules/hparams.py), all fields as JSON",
        ),
        tfx.dsl.experimental.RuntimeParameter(
            name=CANARY_MAX_BATCH_SECONDS,
            ptype=float,
            default=float(gate.canary_max_batch_seconds),
            description="The serving canary's latency bound per batch",
        ),
    ]


def compile_pipeline(
    output_path: str,
    image: str,
    locations: Locations,
    config: PipelineConfig,
    *,
    volumes: Optional[Mapping[str, str]] = None,
    s3_settings: Optional[S3Settings] = None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
) -> str:
    """Writes the package to output_path (.yaml) and returns that path.

    Locations are as the pods see them: gs:// or s3:// URLs or absolute paths
    (inside the image or on a volume), and so are the config's hub and
    schema_file. volumes maps PersistentVolumeClaim names to mount paths,
    mounted into every task. When any location is on s3://, every task gets
    s3_settings (default: S3Settings(), KFP's MinIO secret). The Trainer runs
    as image_training says, so compiling reads and writes nothing but
    output_path. With --window among the options given, it compiles
    continuous training over a spans folder: ExampleGen reads the newest span
    (our entrypoint resolves {SPAN} as TFX's driver does) and DriftGate keeps
    the accepted spans in span_ledger(pipeline_root).

    data_root, the hyperparameters and the canary's latency bound stay
    run-time parameters (DATA_ROOT, HYPERPARAMETERS, CANARY_MAX_BATCH_SECONDS)
    with the compiled values as defaults."""
    if not output_path.endswith(('.yaml', '.yml')):
        # KubeflowV2DagRunner's other form, a PipelineJob JSON, is for Vertex AI.
        raise UserInputError(f'{output_path}: the package must be a .yaml file')
    hub, schema_file = config.hub, config.data.schema_file
    locations_list = (locations.pipeline_root, locations.data_root, locations.serving_dir, hub)
    locations_check(*locations_list, schema_file)
    training = image_training(config.training)
    parameters = _runtime_parameters(locations, training, config.gate)
    spans = None
    if 'window' in config.given:
        spans = dataclasses.replace(config.spans, ledger=span_ledger(locations.pipeline_root))
    pipeline = create_pipeline(
        dataclasses.replace(locations, data_root=parameters[0]),
        config.data,
        dataclasses.replace(training, hyperparameters=parameters[1]),
        dataclasses.replace(config.gate, canary_max_batch_seconds=parameters[2]),
        spans,
        # No metadata_connection_config: KFP brings its own ML Metadata.
        beam_pipeline_args=list(beam_pipeline_args or default_beam_args(image)),
        enable_cache=config.enable_cache,
    )
    spec = _pipeline_spec(pipeline, image)
    s3_settings = (s3_settings or S3Settings()) if any(s3.is_s3(p) for p in locations_list) else None
    always_run = ALWAYS_RUN + (SPANS_ALWAYS_RUN if spans else ())
    _adapt_for_kfp(spec, locations.pipeline_root, parameters, s3_settings, always_run)
    platform = _platform_spec(spec, volumes or {}, s3_settings)
    _write_yaml(output_path, [spec] + ([platform] if platform else []))
    return output_path


def _pipeline_spec(pipeline: tfx.dsl.Pipeline, image: str) -> pipeline_spec_pb2.PipelineSpec:
    """KubeflowV2DagRunner's PipelineSpec, version 2.1 (typed parameters,
    parameterValues): what the KFP 2 backend reads; its driver ignores 2.0's
    constantValue inputs."""
    dag_runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image, use_pipeline_spec_2_1=True)
    )
    job = dag_runner.run(pipeline, write_out=False)
    return json_format.ParseDict(job['pipelineSpec'], pipeline_spec_pb2.PipelineSpec())


def _write_yaml(path: str, documents) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump_all([json_format.MessageToDict(d) for d in documents], f, sort_keys=True)


def _adapt_for_kfp(
    spec: pipeline_spec_pb2.PipelineSpec,
    pipeline_root: str,
    parameters: List[tfx.dsl.experimental.RuntimeParameter],
    s3_settings: Optional[S3Settings],
    always_run: Sequence[str],
) -> None:
    """What open-source KFP needs that TFX leaves out of the PipelineSpec, or
    puts in for Vertex AI only, and our entrypoint."""
    # TFX keeps both in the PipelineJob's runtime config, which the YAML drops.
    spec.default_pipeline_root = pipeline_root
    for parameter in parameters:
        definition = spec.root.input_definitions.parameters[parameter.name]
        json_format.ParseDict(parameter.default, definition.default_value)
        definition.is_optional = True
        definition.description = parameter.description
    # TFX only has a pipeline-wide cache switch (see local_runner.compile_ir).
    for name, task in spec.root.dag.tasks.items():
        if name in always_run:
            task.caching_options.enable_cache = False
    environment = s3_settings.environment() if s3_settings else {}
    for executor in spec.deployment_spec['executors'].values():
        container = executor['container']
        # ExampleGen's driver is a lifecycle hook that only Vertex AI runs; the
        # executor reads input_config itself, and the entrypoint resolves {SPAN}.
        if 'lifecycle' in container:
            del container['lifecycle']
        container['command'] = ENTRYPOINT
        if environment:
            container['env'] = [{'name': k, 'value': v} for k, v in sorted(environment.items())]


def _platform_spec(
    spec: pipeline_spec_pb2.PipelineSpec, volumes: Mapping[str, str], s3_settings: Optional[S3Settings]
) -> Optional[pipeline_spec_pb2.PlatformSpec]:
    """The Kubernetes platform spec (what kfp-kubernetes' mount_pvc and
    use_secret_as_env write) for every task: the volumes, the S3 secret."""
    config = {}
    if volumes:
        config['pvcMount'] = [{'constant': claim, 'mountPath': path} for claim, path in volumes.items()]
    if s3_settings:
        config['secretAsEnv'] = [s3_settings.secret_as_env()]
    if not config:
        return None
    platform = pipeline_spec_pb2.PlatformSpec()
    executors = platform.platforms['kubernetes'].deployment_spec.executors
    for label in spec.deployment_spec['executors'].keys():
        executors[label].update(config)
    return platform
