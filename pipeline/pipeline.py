"""create_pipeline(...): the one pipeline definition every runner compiles."""

from typing import List, Optional, Tuple, Union

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components.atomic_pusher.component import AtomicPusher
from components.data_gate.component import DataGate
from components.embedding_builder.component import EmbeddingBuilder
from components.semi_supervised_trainer.component import SemiSupervisedTrainer
from components.serving_baseline.component import EvaluatorVsServing, ServingBaseline
from components.serving_canary.component import ServingCanary
from modules import model as model_lib
from modules.hparams import Hyperparameters
from pipeline.configs import SPLIT_MOVIE, SPLIT_SOURCE, SPLITS
from pipeline.recipes import EmbeddingSpec

# prepare-data's folder of reviews without labels, and its one split name.
UNLABELED_PATTERN = 'unsup/*'
UNLABELED_SPLIT = 'unlabeled'

# Nodes that read state outside the pipeline (the serving directory): a cached
# result could be stale, so every runner must execute them on every run.
ALWAYS_RUN = ('ServingBaseline',)


def example_gen_configs(split: str, train_eval_buckets: Tuple[int, int] = (3, 2)):
    """(input_config, output_config) for ImportExampleGen over prepare-data's
    output; train_eval_buckets (3, 2) is the tutorial's 60/40."""
    if split == SPLIT_SOURCE:
        return example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name='train', pattern='train/*'),
                example_gen_pb2.Input.Split(name='eval', pattern='test/*'),
            ]
        ), None
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    output = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=train_eval_buckets[0]),
                example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=train_eval_buckets[1]),
            ],
            partition_feature_name='movie_id' if split == SPLIT_MOVIE else None,
        )
    )
    return example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name='train', pattern='train/*')]), output


def unlabeled_example_gen(data_root: str) -> tfx.components.ImportExampleGen:
    """prepare-data's unlabeled reviews, all in one split (ImportExampleGen
    would split a single input 2:1 into train/eval by default)."""
    return tfx.components.ImportExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=UNLABELED_SPLIT, pattern=UNLABELED_PATTERN)]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=UNLABELED_SPLIT, hash_buckets=1)]
            )
        ),
    ).with_id('UnlabeledExampleGen')


def eval_config(min_accuracy: float, max_accuracy_drop: float) -> tfma.EvalConfig:
    """Accuracy must clear an absolute floor and, when a model is serving, must
    not drop by more than max_accuracy_drop below it."""
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={'value': min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            # TFMA compares strictly (diff > bound), so nudge the bound below -drop.
            absolute={'value': -max_accuracy_drop - 1e-9},
        ),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=model_lib.EXAMPLES_SIGNATURE,
                label_key=model_lib.LABEL_FEATURE,
                prediction_key=model_lib.OUTPUT_KEY,
            )
        ],
        # Overall, and per star rating when the data has it (mild vs extreme reviews).
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=['rating'])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name='ExampleCount'),
                    # The gate judges the overall slice; the rating slices are for reading.
                    tfma.MetricConfig(
                        class_name='BinaryAccuracy',
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(
                                slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_threshold
                            )
                        ],
                    ),
                    tfma.MetricConfig(class_name='AUC'),
                    tfma.MetricConfig(class_name='Precision'),
                    tfma.MetricConfig(class_name='Recall'),
                    # For the run report: the confusion matrix at the accuracy's 0.5
                    # threshold, and predictions per true class in 20 probability bins.
                    tfma.MetricConfig(class_name='ConfusionMatrixAtThresholds', config='{"thresholds": [0.5]}'),
                    tfma.MetricConfig(class_name='CalibrationPlot', config='{"num_buckets": 20}'),
                ]
            )
        ],
        # The compiled Keras metrics work on logits; the signature returns probabilities.
        options=tfma.Options(include_default_metrics={'value': False}),
    )


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    serving_dir: str,
    schema_file: Optional[str],
    hyperparameters: Union[Hyperparameters, tfx.dsl.experimental.RuntimeParameter],
    trainer_module_file: Optional[str] = None,
    trainer_run_fn: Optional[str] = None,
    min_accuracy: float = 0.85,
    max_accuracy_drop: float = 0.0,
    canary_max_batch_seconds: float = 2.0,
    split: str = SPLIT_MOVIE,
    train_eval_buckets: Tuple[int, int] = (3, 2),
    use_unlabeled: bool = False,
    embedding: Optional[EmbeddingSpec] = None,
    glove_dir: Optional[str] = None,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """ImportExampleGen -> StatisticsGen -> ImportSchemaGen (the curated
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
    split and the unlabeled reviews; its module replaces the hub handle."""
    input_config, output_config = example_gen_configs(split, train_eval_buckets)
    example_gen = tfx.components.ImportExampleGen(
        input_base=data_root, input_config=input_config, output_config=output_config
    )
    if schema_file:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_file)
        # With the schema, the categorical label gets the value distribution
        # the data gate's drift check compares.
        statistics_gen = tfx.components.StatisticsGen(
            examples=example_gen.outputs['examples'], schema=schema_gen.outputs['schema']
        )
    else:
        statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples'])
        schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs['statistics'])
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema']
    )
    data_gate = DataGate(
        statistics=statistics_gen.outputs['statistics'],
        anomalies=example_validator.outputs['anomalies'],
        schema=schema_gen.outputs['schema'],
    )

    unlabeled_gen = unlabeled_example_gen(data_root) if use_unlabeled else None
    embedding_builder = None
    if embedding is not None:
        embedding_builder = EmbeddingBuilder(
            examples=example_gen.outputs['examples'],
            unlabeled_examples=unlabeled_gen.outputs['examples'] if unlabeled_gen else None,
            glove_dir=glove_dir,
            **embedding.module_options,
        )
        embedding_builder.add_upstream_node(data_gate)  # bad data builds nothing either
    trainer = SemiSupervisedTrainer(
        module_file=trainer_module_file,
        run_fn=trainer_run_fn,
        examples=example_gen.outputs['examples'],
        unlabeled_examples=unlabeled_gen.outputs['examples'] if unlabeled_gen else None,
        embedding=embedding_builder.outputs['module'] if embedding_builder else None,
        schema=schema_gen.outputs['schema'],
        # A RuntimeParameter (Kubeflow) holds the hyperparameters' JSON.
        custom_config=(
            hyperparameters.to_custom_config() if isinstance(hyperparameters, Hyperparameters) else hyperparameters
        ),
    ).with_id('Trainer')
    trainer.add_upstream_node(data_gate)  # bad data trains nothing

    baseline = ServingBaseline(serving_dir=serving_dir)
    evaluator = EvaluatorVsServing(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline.outputs['baseline'],
        eval_config=eval_config(min_accuracy, max_accuracy_drop),
    ).with_id('Evaluator')
    canary = ServingCanary(
        model=trainer.outputs['model'],
        examples=example_gen.outputs['examples'],
        max_batch_seconds=canary_max_batch_seconds,
    )

    pusher = AtomicPusher(
        model=trainer.outputs['model'],
        model_blessing=evaluator.outputs['blessing'],
        infra_blessing=canary.outputs['blessing'],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    ).with_id('Pusher')

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
            *([embedding_builder] if embedding_builder else []),
            trainer,
            baseline,
            evaluator,
            canary,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
