"""create_pipeline(...): the one pipeline definition every runner compiles,
composed of four builders: data (ingest, statistics, schema, the data
gate), spans (the drift gate of continuous training), training (the
embedding module and the Trainer) and release (the Evaluator against the
serving model, the canary, the pusher)."""

import dataclasses
import json
from typing import List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base.base_node import BaseNode
from tfx.dsl.input_resolution.canned_resolver_functions import latest_created, rolling_range

from imdb_tfx.components.atomic_pusher.component import AtomicPusher
from imdb_tfx.components.data_gate.component import DataGate
from imdb_tfx.components.drift_gate.component import DriftGate
from imdb_tfx.components.embedding_builder.component import EmbeddingBuilder
from imdb_tfx.components.evaluator_vs_serving.component import EvaluatorVsServing
from imdb_tfx.components.semi_supervised_trainer.component import SemiSupervisedTrainer
from imdb_tfx.components.serving_baseline.component import ServingBaseline
from imdb_tfx.components.serving_canary.component import ServingCanary
from imdb_tfx.core import names
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline.config import DataConfig, GateConfig, Locations, SpansConfig, TrainingConfig
from imdb_tfx.pipeline.eval_config import eval_config
from imdb_tfx.pipeline.example_gen import labelled_example_gen, unlabeled_example_gen

# Nodes that read state outside the pipeline (the serving directory): a cached
# result could be stale, so every runner must execute them on every run.
ALWAYS_RUN = (names.SERVING_BASELINE,)


@dataclasses.dataclass
class _DataNodes:
    """ImportExampleGen (train, valid, eval) -> StatisticsGen -> the schema
    (imported, or inferred by SchemaGen) -> ExampleValidator -> DataGate,
    and the unlabeled reviews' ExampleGen when training reads them."""

    example_gen: BaseNode
    unlabeled_gen: Optional[BaseNode]
    statistics_gen: BaseNode
    schema_gen: BaseNode
    example_validator: BaseNode
    data_gate: BaseNode

    @property
    def nodes(self) -> List[BaseNode]:
        unlabeled = [self.unlabeled_gen] if self.unlabeled_gen else []
        return [
            self.example_gen,
            *unlabeled,
            self.statistics_gen,
            self.schema_gen,
            self.example_validator,
            self.data_gate,
        ]


@dataclasses.dataclass
class _TrainingInputs:
    """What the Trainer and EmbeddingBuilder read (this run's examples, or the
    window of spans) and what the Evaluator and canary judge (this run's
    examples: its span)."""

    examples: tfx.dsl.Channel
    unlabeled: Optional[tfx.dsl.Channel]
    judged: tfx.dsl.Channel


def _data_nodes(data_root, data: DataConfig, use_unlabeled: bool, spans: bool) -> _DataNodes:
    example_gen = labelled_example_gen(data_root, data, spans)
    examples = example_gen.outputs['examples']
    if data.schema_file:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=data.schema_file).with_id(names.IMPORT_SCHEMA_GEN)
        # With the schema, the categorical label gets the value distribution
        # the data gate's drift check compares.
        statistics_gen = tfx.components.StatisticsGen(examples=examples, schema=schema_gen.outputs['schema'])
        statistics_gen = statistics_gen.with_id(names.STATISTICS_GEN)
    else:
        statistics_gen = tfx.components.StatisticsGen(examples=examples).with_id(names.STATISTICS_GEN)
        schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs['statistics']).with_id(names.SCHEMA_GEN)
    statistics, schema = statistics_gen.outputs['statistics'], schema_gen.outputs['schema']
    example_validator = tfx.components.ExampleValidator(statistics=statistics, schema=schema).with_id(
        names.EXAMPLE_VALIDATOR
    )
    data_gate = DataGate(
        statistics=statistics, anomalies=example_validator.outputs['anomalies'], schema=schema
    ).with_id(names.DATA_GATE)
    unlabeled_gen = unlabeled_example_gen(data_root, spans) if use_unlabeled else None
    return _DataNodes(example_gen, unlabeled_gen, statistics_gen, schema_gen, example_validator, data_gate)


def _accepted_spans() -> tfx.dsl.Channel:
    """DriftGate's accepted spans of earlier runs. Only DriftGate reads it:
    for a node downstream of DriftGate the compiler would limit it to the
    current run."""
    return tfx.dsl.Channel(
        type=tfx.types.standard_artifacts.Examples, producer_component_id=names.DRIFT_GATE, output_key='accepted'
    )


def _drift_gate(data: _DataNodes, baseline: ServingBaseline, spans: SpansConfig) -> DriftGate:
    """DriftGate compares the newest span with the newest one an earlier run
    accepted, stops the run when it drifted, else writes the window of the
    newest accepted spans."""
    if spans.ledger:
        earlier_spans = dict(span_ledger=spans.ledger)
    else:
        # TFX's span resolution over ML Metadata: the newest accepted span to
        # compare with, the newest `window` to train on. keep_all_versions:
        # TFX's version semantics would keep only one span here; DriftGate
        # keeps the newest artifact of each span.
        earlier_spans = dict(
            reference=latest_created(_accepted_spans(), n=1),
            earlier=rolling_range(_accepted_spans(), num_spans=spans.window, min_spans=0, keep_all_versions=True),
        )
    drift_gate = DriftGate(
        examples=data.example_gen.outputs['examples'],
        baseline=baseline.outputs['baseline'],
        unlabeled_examples=data.unlabeled_gen.outputs['examples'] if data.unlabeled_gen else None,
        thresholds=json.dumps(dict(spans.drift_thresholds), sort_keys=True),
        window_spans=spans.window,
        **earlier_spans,
    ).with_id(names.DRIFT_GATE)
    drift_gate.add_upstream_node(data.data_gate)  # drift is judged on data that passed the schema
    return drift_gate


def _training_inputs(data: _DataNodes, drift_gate: Optional[DriftGate]) -> _TrainingInputs:
    if drift_gate is None:
        unlabeled = data.unlabeled_gen.outputs['examples'] if data.unlabeled_gen else None
        examples = data.example_gen.outputs['examples']
        return _TrainingInputs(examples=examples, unlabeled=unlabeled, judged=examples)
    # A window carries its spans' unlabeled reviews as one more split.
    window = drift_gate.outputs['window']
    return _TrainingInputs(
        examples=window, unlabeled=window if data.unlabeled_gen else None, judged=drift_gate.outputs['accepted']
    )


def _training_nodes(
    training: TrainingConfig, inputs: _TrainingInputs, data: _DataNodes, baseline: ServingBaseline
) -> List[BaseNode]:
    """The Trainer, and before it the EmbeddingBuilder when the module is
    built from the data; neither runs on data the data gate stopped."""
    embedding_builder = None
    if training.embedding is not None:
        if not training.glove_dir:
            raise ValueError(
                "TrainingConfig: an embedding built in the pipeline needs glove_dir, the GloVe wheel's folder"
            )
        embedding_builder = EmbeddingBuilder(
            examples=inputs.examples,
            unlabeled_examples=inputs.unlabeled,
            glove_dir=training.glove_dir,
            **training.embedding.module_options,
        ).with_id(names.EMBEDDING_BUILDER)
        embedding_builder.add_upstream_node(data.data_gate)
    hyperparameters = training.hyperparameters
    trainer = SemiSupervisedTrainer(
        module_file=training.module_file,
        run_fn=training.run_fn,
        examples=inputs.examples,
        unlabeled_examples=inputs.unlabeled,
        embedding=embedding_builder.outputs['module'] if embedding_builder else None,
        schema=data.schema_gen.outputs['schema'],
        # Only with a warm start: the baseline is new every run, and as an
        # input it would keep the Trainer out of ML Metadata's cache.
        base_model=baseline.outputs['baseline'] if training.warm_starts else None,
        train_splits=[names.TRAIN],
        valid_splits=[names.VALID],
        # A RuntimeParameter (Kubeflow) holds the hyperparameters' JSON.
        custom_config=(
            hyperparameters.to_custom_config() if isinstance(hyperparameters, Hyperparameters) else hyperparameters
        ),
    ).with_id(names.TRAINER)
    trainer.add_upstream_node(data.data_gate)
    return [*([embedding_builder] if embedding_builder else []), trainer]


def _release_nodes(
    gate: GateConfig, model: tfx.dsl.Channel, judged: tfx.dsl.Channel, baseline: ServingBaseline, serving_dir: str
) -> List[BaseNode]:
    """The Evaluator (against the model now serving) and the serving canary
    bless the model; the pusher needs both blessings."""
    evaluator = EvaluatorVsServing(
        examples=judged,
        model=model,
        baseline_model=baseline.outputs['baseline'],
        example_splits=[names.EVAL],
        eval_config=eval_config(gate),
    ).with_id(names.EVALUATOR)
    canary = ServingCanary(model=model, examples=judged, max_batch_seconds=gate.canary_max_batch_seconds).with_id(
        names.SERVING_CANARY
    )
    pusher = AtomicPusher(
        model=model,
        model_blessing=evaluator.outputs['blessing'],
        infra_blessing=canary.outputs['blessing'],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    ).with_id(names.PUSHER)
    return [evaluator, canary, pusher]


def create_pipeline(
    locations: Locations,
    data: DataConfig,
    training: TrainingConfig,
    gate: GateConfig,
    spans: Optional[SpansConfig] = None,
    *,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """ImportExampleGen (train, valid, eval) -> StatisticsGen -> ImportSchemaGen
    -> ExampleValidator -> DataGate -> [EmbeddingBuilder] -> Trainer ->
    Evaluator (vs ServingBaseline, the model now serving) and ServingCanary
    -> Pusher (needs both blessings). With spans (locations.data_root is a
    spans folder), the ExampleGens read the newest span and DriftGate, after
    the data gate, decides whether it joins the window the Trainer reads.
    Paths and URIs may be local, gs:// or s3://; each object's defaults are
    in pipeline/configs.py."""
    data_nodes = _data_nodes(locations.data_root, data, training.use_unlabeled, spans is not None)
    baseline = ServingBaseline(serving_dir=locations.serving_dir).with_id(names.SERVING_BASELINE)
    drift_gate = _drift_gate(data_nodes, baseline, spans) if spans else None
    inputs = _training_inputs(data_nodes, drift_gate)
    training_nodes = _training_nodes(training, inputs, data_nodes, baseline)
    model = training_nodes[-1].outputs['model']
    return tfx.dsl.Pipeline(
        pipeline_name=locations.pipeline_name,
        pipeline_root=locations.pipeline_root,
        components=[
            *data_nodes.nodes,
            baseline,
            *([drift_gate] if drift_gate else []),
            *training_nodes,
            *_release_nodes(gate, model, inputs.judged, baseline, locations.serving_dir),
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
