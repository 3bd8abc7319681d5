"""Compiles create_pipeline(...) with TFX's KubeflowV2DagRunner into the YAML
package that open-source Kubeflow Pipelines 2.x runs (kfp.Client())."""

import dataclasses
import json
import os
from typing import Any, List, Mapping, Optional, Sequence

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from imdb_tfx.core import names, s3
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.kubeflow import locations
from imdb_tfx.kubeflow.image import EMBEDDINGS_DIR, GLOVE_DIR, SCHEMA_FILE
from imdb_tfx.kubeflow.s3_settings import S3Settings
from imdb_tfx.modules.hparams import PIPELINE_BUILT_HUB_HANDLE
from imdb_tfx.pipeline import configs, recipes
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
    regression_confidence: float = configs.REGRESSION_CONFIDENCE,
    canary_max_batch_seconds: float = configs.CANARY_MAX_BATCH_SECONDS,
    split: str = configs.SPLIT,
    window: Optional[int] = None,
    drift_thresholds: Optional[Mapping[str, float]] = None,
    schema_file: Optional[str] = SCHEMA_FILE,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    volumes: Optional[Mapping[str, str]] = None,
    s3_settings: Optional[S3Settings] = None,
    enable_cache: bool = True,
) -> str:
    """Writes the package to output_path (.yaml) and returns that path.

    Paths are as the pods see them: pipeline_root, data_root and serving_dir
    are gs:// or s3:// URLs or absolute paths (inside the image or on a
    volume); hub_handle and schema_file URLs or absolute paths. volumes maps
    PersistentVolumeClaim names to mount paths, mounted into every task.
    When any location is on s3://, every task gets s3_settings (default:
    S3Settings(), KFP's MinIO secret). hyperparameters overrides fields of the
    recipe's Hyperparameters; without hub_handle the recipe's module is used,
    built in the pipeline (EmbeddingBuilder, from the image's GloVe wheel)
    when it depends on the data, else baked into the image; schema_file None infers the schema with SchemaGen.
    window compiles continuous training (data_root a spans folder, as
    `imdb-tfx run --window`): ExampleGen reads the newest span (our
    entrypoint resolves {SPAN} as TFX's driver does), DriftGate keeps the
    accepted spans in span_ledger(pipeline_root), under drift_thresholds
    (default configs.DRIFT_THRESHOLDS).
    The Trainer's run_fn is named by import path (the image holds it), so
    compiling reads and writes nothing but output_path.

    data_root, the hyperparameters and the canary's latency bound stay
    run-time parameters (DATA_ROOT, HYPERPARAMETERS, CANARY_MAX_BATCH_SECONDS)
    with these values as defaults."""
    if not output_path.endswith(('.yaml', '.yml')):
        # KubeflowV2DagRunner's other form, a PipelineJob JSON, is for Vertex AI.
        raise UserInputError(f'{output_path}: the package must be a .yaml file')
    locations.check(pipeline_root, data_root, serving_dir, hub_handle, schema_file)
    uses_s3 = any(s3.is_s3(p) for p in (pipeline_root, data_root, serving_dir, hub_handle))

    preset = recipes.get(recipe)
    # A data-vocabulary module is built in the pipeline, from the image's GloVe wheel.
    build_embedding = not hub_handle and preset.embedding.data_vocabulary
    default_hub = PIPELINE_BUILT_HUB_HANDLE if build_embedding else image_hub_handle(preset.embedding)
    try:
        hparams = dataclasses.replace(
            preset.hyperparameters, **{'hub_handle': hub_handle or default_hub, **(hyperparameters or {})}
        )
    except ValueError as e:
        raise UserInputError(str(e)) from e
    parameters = [
        tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT,
            ptype=str,
            default=data_root,
            description='Prepared TFRecords (imdb-tfx prepare-data), as the pods see them',
        ),
        tfx.dsl.experimental.RuntimeParameter(
            name=HYPERPARAMETERS,
            ptype=str,
            default=json.dumps(hparams.to_custom_config()),
            description="The Trainer's hyperparameters (modules/hparams.py), all fields as JSON",
        ),
        tfx.dsl.experimental.RuntimeParameter(
            name=CANARY_MAX_BATCH_SECONDS,
            ptype=float,
            default=float(canary_max_batch_seconds),
            description="The serving canary's latency bound per batch",
        ),
    ]
    pipeline = create_pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=pipeline_root,
        data_root=parameters[0],
        trainer_run_fn=configs.TRAINER_RUN_FN,
        serving_dir=serving_dir,
        schema_file=schema_file,
        hyperparameters=parameters[1],
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
        regression_confidence=regression_confidence,
        canary_max_batch_seconds=parameters[2],
        split=split,
        split_buckets=configs.SPLIT_BUCKETS,
        # Compiled in for the default hyperparameters; a run that turns
        # self-training off just leaves the unlabeled examples unread.
        use_unlabeled=hparams.self_trains,
        embedding=preset.embedding if build_embedding else None,
        glove_dir=GLOVE_DIR,
        window=window,
        drift_thresholds=dict(drift_thresholds or configs.DRIFT_THRESHOLDS) if window else None,
        span_ledger=span_ledger(pipeline_root) if window else None,
        # No metadata_connection_config: KFP brings its own ML Metadata.
        beam_pipeline_args=list(beam_pipeline_args or default_beam_args(image)),
        enable_cache=enable_cache,
    )
    # Spec 2.1 (typed parameters, parameterValues) is what the KFP 2 backend
    # reads; its driver ignores 2.0's constantValue inputs.
    dag_runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image, use_pipeline_spec_2_1=True)
    )
    job = dag_runner.run(pipeline, write_out=False)
    spec = json_format.ParseDict(job['pipelineSpec'], pipeline_spec_pb2.PipelineSpec())
    s3_settings = (s3_settings or S3Settings()) if uses_s3 else None
    _adapt_for_kfp(spec, pipeline_root, parameters, s3_settings, ALWAYS_RUN + (SPANS_ALWAYS_RUN if window else ()))

    platform = _platform_spec(spec, volumes or {}, s3_settings)
    documents = [spec] + ([platform] if platform else [])
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, 'w', encoding='utf-8') as f:
        yaml.safe_dump_all([json_format.MessageToDict(d) for d in documents], f, sort_keys=True)
    return output_path


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
