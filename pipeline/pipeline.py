"""create_pipeline(...): the one pipeline definition every runner compiles."""

import json
from typing import Dict, List, Optional, Tuple, Union

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.dsl.input_resolution.canned_resolver_functions import latest_created, rolling_range
from tfx.proto import example_gen_pb2

from imdb_tfx.components.atomic_pusher.component import AtomicPusher
from imdb_tfx.components.data_gate.component import DataGate
from imdb_tfx.components.drift_gate.component import DriftGate
from imdb_tfx.components.embedding_builder.component import EmbeddingBuilder
from imdb_tfx.components.evaluator_vs_serving.component import EvaluatorVsServing
from imdb_tfx.components.semi_supervised_trainer.component import SemiSupervisedTrainer
from imdb_tfx.components.serving_baseline.component import ServingBaseline
from imdb_tfx.components.serving_canary.component import ServingCanary
from imdb_tfx.core import names
from imdb_tfx.modules import calibration_error, paired_accuracy
from imdb_tfx.modules.hparams import Hyperparameters
from imdb_tfx.pipeline.configs import SPLIT_MOVIE, SPLIT_SOURCE, SPLITS
from imdb_tfx.pipeline.recipes import EmbeddingSpec

# prepare-data's folder of reviews without labels, and its one split name.
UNLABELED_PATTERN = 'unsup/*'
# prepare-data's shards of train/ (data-00000-of-00010.tfrecord.gz, ...): the
# first one, and every other one (an index with a non-zero digit).
SOURCE_VALID_PATTERN = 'train/data-00000-of-*'
SOURCE_TRAIN_PATTERN = 'train/data-*[1-9]*-of-*'

# Nodes that read state outside the pipeline (the serving directory): a cached
# result could be stale, so every runner must execute them on every run.
ALWAYS_RUN = (names.SERVING_BASELINE,)


def _in_span(pattern: str, spans: bool) -> str:
    """A pattern of prepare-data's output, inside the newest span of a spans
    folder (ImportExampleGen resolves {SPAN} to the largest span number)."""
    return f'{names.SPAN_DIR_PATTERN}/{pattern}' if spans else pattern


def example_gen_configs(split: str, split_buckets: Tuple[int, int, int], spans: bool = False):
    """(input_config, output_config) for ImportExampleGen over prepare-data's
    output (or the newest span of a spans folder): train, valid and eval in
    split_buckets' ratio (hash buckets of movie_id or of the example). With
    the source split, eval is the source's test/ and valid is the first of
    prepare-data's train/ shards (files, since ImportExampleGen cannot split
    an input split further)."""
    if split == SPLIT_SOURCE and spans:
        raise ValueError('spans have no source test split: use the movie or random split')
    if split == SPLIT_SOURCE:
        return example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name=names.TRAIN, pattern=SOURCE_TRAIN_PATTERN),
                example_gen_pb2.Input.Split(name=names.VALID, pattern=SOURCE_VALID_PATTERN),
                example_gen_pb2.Input.Split(name=names.EVAL, pattern='test/*'),
            ]
        ), None
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    output = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in zip(names.LABELLED_SPLITS, split_buckets)
            ],
            partition_feature_name=names.MOVIE_FEATURE if split == SPLIT_MOVIE else None,
        )
    )
    train = example_gen_pb2.Input.Split(name=names.TRAIN, pattern=_in_span('train/*', spans))
    return example_gen_pb2.Input(splits=[train]), output


def unlabeled_example_gen(data_root: str, spans: bool = False) -> tfx.components.ImportExampleGen:
    """prepare-data's unlabeled reviews, all in one split (ImportExampleGen
    would split a single input 2:1 into train/eval by default)."""
    return tfx.components.ImportExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=names.UNLABELED, pattern=_in_span(UNLABELED_PATTERN, spans))]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=names.UNLABELED, hash_buckets=1)]
            )
        ),
    ).with_id(names.UNLABELED_EXAMPLE_GEN)


def eval_config(min_accuracy: float, max_accuracy_drop: float, regression_confidence: float) -> tfma.EvalConfig:
    """Accuracy must clear an absolute floor and, when a model is serving, must
    not be worse than it by more than max_accuracy_drop with
    regression_confidence: the upper bound of the exact interval of the paired
    accuracy difference on the same reviews (modules/paired_accuracy.py)."""
    accuracy_floor = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={'value': min_accuracy})
    )
    no_regression = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={'value': -max_accuracy_drop}
        )
    )
    overall = [tfma.SlicingSpec()]  # the gate judges the overall slice; the rating slices are for reading
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=names.EXAMPLES_SIGNATURE,
                label_key=names.LABEL_FEATURE,
                prediction_key=names.OUTPUT_KEY,
            )
        ],
        # Overall, and per star rating when the data has it (mild vs extreme reviews).
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[names.RATING_FEATURE])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name='ExampleCount'),
                    tfma.MetricConfig(
                        class_name='BinaryAccuracy',
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=accuracy_floor)
                        ],
                    ),
                    tfma.MetricConfig(
                        class_name=paired_accuracy.PairedAccuracyDifference.__name__,
                        module=paired_accuracy.__name__,
                        config=json.dumps({'confidence': regression_confidence}),
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=no_regression)
                        ],
                    ),
                    tfma.MetricConfig(class_name='AUC'),
                    tfma.MetricConfig(class_name='Precision'),
                    tfma.MetricConfig(class_name='Recall'),
                    # For the run report: the confusion matrix at the accuracy's 0.5
                    # threshold, and predictions per true class in 20 probability bins.
                    tfma.MetricConfig(class_name='ConfusionMatrixAtThresholds', config='{"thresholds": [0.5]}'),
                    tfma.MetricConfig(class_name='CalibrationPlot', config='{"num_buckets": 20}'),
                    tfma.MetricConfig(
                        class_name=calibration_error.ExpectedCalibrationError.__name__,
                        module=calibration_error.__name__,
                        config='{"num_buckets": 20}',
                    ),
                ]
            )
        ],
        # The compiled Keras metrics work on logits; the signature returns probabilities.
        # Intervals come from counts (core/intervals.py), not from TFMA's jackknife.
        options=tfma.Options(include_default_metrics={'value': False}),
    )


def _accepted_spans() -> tfx.dsl.Channel:
    """DriftGate's accepted spans of earlier runs. Only DriftGate reads it:
    for a node downstream of DriftGate the compiler would limit it to the
    current run."""
    return tfx.dsl.Channel(
        type=tfx.types.standard_artifacts.Examples, producer_component_id=names.DRIFT_GATE, output_key='accepted'
    )


def _warm_starts(hyperparameters) -> bool:
    return isinstance(hyperparameters, Hyperparameters) and hyperparameters.warm_start


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    serving_dir: str,
    schema_file: Optional[str],
    hyperparameters: Union[Hyperparameters, tfx.dsl.experimental.RuntimeParameter],
    min_accuracy: float,
    max_accuracy_drop: float,
    regression_confidence: float,
    canary_max_batch_seconds: float,
    split: str,
    split_buckets: Tuple[int, int, int],
    trainer_module_file: Optional[str] = None,
    trainer_run_fn: Optional[str] = None,
    use_unlabeled: bool = False,
    embedding: Optional[EmbeddingSpec] = None,
    glove_dir: Optional[str] = None,
    window: Optional[int] = None,
    drift_thresholds: Optional[Dict[str, float]] = None,
    span_ledger: Optional[str] = None,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Every default is in pipeline/configs.py; runners pass each knob.

    ImportExampleGen (train, valid, eval) -> StatisticsGen -> ImportSchemaGen (the curated
    schema_file; SchemaGen infers one when it is None) -> ExampleValidator ->
    DataGate -> Trainer -> Evaluator (vs ServingBaseline, the model now
    serving) and ServingCanary -> Pusher (needs both blessings).

    The Trainer's run_fn comes from trainer_module_file (local runs: TFX
    fingerprints the file, so editing it invalidates the cache) or from
    trainer_run_fn, an import path (Kubeflow: the image holds the modules, so
    compiling uploads nothing). Paths and URIs may be local, gs:// or s3://.

    use_unlabeled adds UnlabeledExampleGen (data_root/unsup/*) as the
    Trainer's unlabeled examples, for the hyperparameters' self-training.
    embedding (a recipe's spec with a data vocabulary) adds EmbeddingBuilder:
    GloVe from the wheel in glove_dir, restricted to the words of the train
    split and the unlabeled reviews; its module replaces the hub handle.

    window (continuous training; data_root is a spans folder, imdb_tfx/spans.py):
    the ExampleGens read the newest span; DriftGate compares it with the
    newest span an earlier run accepted, under drift_thresholds, and stops
    the run when it drifted; else it writes the window, the newest `window`
    accepted spans (TFX's rolling span range), which the Trainer and
    EmbeddingBuilder read; the Evaluator and canary judge the newest span's
    eval split. Earlier runs' accepted spans come from ML Metadata, or, with
    span_ledger (Kubeflow: open-source KFP resolves no artifacts of earlier
    runs), from the ledger DriftGate keeps in that folder."""
    spans = window is not None
    input_config, output_config = example_gen_configs(split, split_buckets, spans)
    example_gen = tfx.components.ImportExampleGen(
        input_base=data_root, input_config=input_config, output_config=output_config
    ).with_id(names.EXAMPLE_GEN)
    if schema_file:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_file).with_id(names.IMPORT_SCHEMA_GEN)
        # With the schema, the categorical label gets the value distribution
        # the data gate's drift check compares.
        statistics_gen = tfx.components.StatisticsGen(
            examples=example_gen.outputs['examples'], schema=schema_gen.outputs['schema']
        ).with_id(names.STATISTICS_GEN)
    else:
        statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples']).with_id(
            names.STATISTICS_GEN
        )
        schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs['statistics']).with_id(names.SCHEMA_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema']
    ).with_id(names.EXAMPLE_VALIDATOR)
    data_gate = DataGate(
        statistics=statistics_gen.outputs['statistics'],
        anomalies=example_validator.outputs['anomalies'],
        schema=schema_gen.outputs['schema'],
    ).with_id(names.DATA_GATE)

    unlabeled_gen = unlabeled_example_gen(data_root, spans) if use_unlabeled else None
    baseline = ServingBaseline(serving_dir=serving_dir).with_id(names.SERVING_BASELINE)

    drift_gate, span_nodes = None, []
    if spans:
        if span_ledger:
            earlier_spans = dict(span_ledger=span_ledger)
        else:
            # Earlier runs' accepted spans (TFX's span resolution over ML Metadata):
            # the newest accepted one to compare with, the newest `window` to train on.
            # keep_all_versions: TFX's version semantics would keep one span only
            # here (measured); DriftGate keeps the newest artifact of each span.
            earlier_spans = dict(
                reference=latest_created(_accepted_spans(), n=1),
                earlier=rolling_range(_accepted_spans(), num_spans=window, min_spans=0, keep_all_versions=True),
            )
        drift_gate = DriftGate(
            examples=example_gen.outputs['examples'],
            baseline=baseline.outputs['baseline'],
            unlabeled_examples=unlabeled_gen.outputs['examples'] if unlabeled_gen else None,
            thresholds=json.dumps(drift_thresholds, sort_keys=True),
            window_spans=window,
            **earlier_spans,
        ).with_id(names.DRIFT_GATE)
        drift_gate.add_upstream_node(data_gate)  # drift is measured on data that passed the schema
        span_nodes = [drift_gate]
    # The Evaluator and the canary judge this run's examples (its span); the
    # Trainer and EmbeddingBuilder read this run's examples or the window of spans.
    judged_examples = drift_gate.outputs['accepted'] if drift_gate else example_gen.outputs['examples']
    training_examples = drift_gate.outputs['window'] if drift_gate else example_gen.outputs['examples']
    training_unlabeled = None
    if unlabeled_gen is not None:  # a window carries its spans' unlabeled reviews as one more split
        training_unlabeled = drift_gate.outputs['window'] if drift_gate else unlabeled_gen.outputs['examples']

    embedding_builder = None
    if embedding is not None:
        embedding_builder = EmbeddingBuilder(
            examples=training_examples,
            unlabeled_examples=training_unlabeled,
            glove_dir=glove_dir,
            **embedding.module_options,
        ).with_id(names.EMBEDDING_BUILDER)
        embedding_builder.add_upstream_node(data_gate)  # bad data builds nothing either
    trainer = SemiSupervisedTrainer(
        module_file=trainer_module_file,
        run_fn=trainer_run_fn,
        examples=training_examples,
        unlabeled_examples=training_unlabeled,
        embedding=embedding_builder.outputs['module'] if embedding_builder else None,
        schema=schema_gen.outputs['schema'],
        # Only with a warm start: the baseline is new every run, and as an
        # input it would keep the Trainer out of ML Metadata's cache.
        base_model=baseline.outputs['baseline'] if _warm_starts(hyperparameters) else None,
        train_splits=[names.TRAIN],
        valid_splits=[names.VALID],
        # A RuntimeParameter (Kubeflow) holds the hyperparameters' JSON.
        custom_config=(
            hyperparameters.to_custom_config() if isinstance(hyperparameters, Hyperparameters) else hyperparameters
        ),
    ).with_id(names.TRAINER)
    trainer.add_upstream_node(data_gate)  # bad data trains nothing

    evaluator = EvaluatorVsServing(
        examples=judged_examples,
        model=trainer.outputs['model'],
        baseline_model=baseline.outputs['baseline'],
        example_splits=[names.EVAL],
        eval_config=eval_config(min_accuracy, max_accuracy_drop, regression_confidence),
    ).with_id(names.EVALUATOR)
    canary = ServingCanary(
        model=trainer.outputs['model'],
        examples=judged_examples,
        max_batch_seconds=canary_max_batch_seconds,
    ).with_id(names.SERVING_CANARY)

    pusher = AtomicPusher(
        model=trainer.outputs['model'],
        model_blessing=evaluator.outputs['blessing'],
        infra_blessing=canary.outputs['blessing'],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    ).with_id(names.PUSHER)

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            *([unlabeled_gen] if unlabeled_gen else []),
            statistics_gen,
            schema_gen,
            example_validator,
            data_gate,
            baseline,
            *span_nodes,
            *([embedding_builder] if embedding_builder else []),
            trainer,
            evaluator,
            canary,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
