"""Names the packages share: the examples' splits and features."""

# ImportExampleGen's labelled splits, each with one job: the Trainer fits on
# TRAIN and chooses (epochs, self-training rounds) on VALID; only the
# Evaluator and the serving canary read EVAL, so the gate's figure is unbiased.
TRAIN = 'train'
VALID = 'valid'
EVAL = 'eval'
LABELLED_SPLITS = (TRAIN, VALID, EVAL)
# A spans folder's spans (imdb_tfx/spans.py): ImportExampleGen's {SPAN} spec
# picks the newest; the Trainer reads a rolling window of the accepted ones.
SPAN_DIR_PATTERN = 'span-{SPAN}'
# ExampleGen's custom properties of a span's examples, which TFX's span resolution reads.
SPAN_PROPERTY = 'span'
VERSION_PROPERTY = 'version'
# UnlabeledExampleGen's one split.
UNLABELED = 'unlabeled'

TEXT_FEATURE = 'text'
LABEL_FEATURE = 'label'
MOVIE_FEATURE = 'movie_id'
RATING_FEATURE = 'rating'

# The paired no-regression metric (modules/paired_accuracy.py): its class and
# the keys it writes into the Evaluator's output, all candidate-minus-serving
# diffs on the same eval reviews. UPPER is the gated one.
PAIRED_ACCURACY_METRIC = 'PairedAccuracyDifference'
ACCURACY_DIFFERENCE = 'accuracy_difference'
# The calibration metric (modules/calibration_error.py).
EXPECTED_CALIBRATION_ERROR = 'expected_calibration_error'
ACCURACY_DIFFERENCE_LOWER = 'accuracy_difference_lower'
ACCURACY_DIFFERENCE_UPPER = 'accuracy_difference_upper'
MCNEMAR_P_VALUE = 'mcnemar_p_value'  # two-sided, exact
CANDIDATE_ONLY_CORRECT = 'candidate_only_correct'
SERVING_ONLY_CORRECT = 'serving_only_correct'

# What the Trainer module writes beside its TensorBoard logs (model_run),
# for the report: per-epoch curves of the chosen model and of the first one
# with self-training, the self-training rounds, the refit and the temperature.
HISTORY_FILE = 'history.json'
TEACHER_HISTORY_FILE = 'teacher_history.json'
SELF_TRAINING_FILE = 'self_training.json'
REFIT_FILE = 'refit.json'
CALIBRATION_FILE = 'calibration.json'
WARM_START_FILE = 'warm_start.json'  # what a warm start copied from the serving model

# Node ids of create_pipeline's components: the tools find a run's executions
# in ML Metadata by them (imdb_tfx/outcome.py, imdb_tfx/report, benchmarks).
EXAMPLE_GEN = 'ImportExampleGen'
UNLABELED_EXAMPLE_GEN = 'UnlabeledExampleGen'
STATISTICS_GEN = 'StatisticsGen'
IMPORT_SCHEMA_GEN = 'ImportSchemaGen'  # the curated schema
SCHEMA_GEN = 'SchemaGen'  # --infer-schema
EXAMPLE_VALIDATOR = 'ExampleValidator'
DATA_GATE = 'DataGate'
DRIFT_GATE = 'DriftGate'  # spans: stops a span that drifted from the previous accepted one
EMBEDDING_BUILDER = 'EmbeddingBuilder'
TRAINER = 'Trainer'
SERVING_BASELINE = 'ServingBaseline'
EVALUATOR = 'Evaluator'
SERVING_CANARY = 'ServingCanary'
PUSHER = 'Pusher'

# Artifact custom properties the tools read. TFX's own: BLESSED (the
# Evaluator's ModelBlessing, and our canary's InfraBlessing), PUSHED and
# PUSHED_DESTINATION (the Pusher's PushedModel).
BLESSED = 'blessed'
PUSHED = 'pushed'
PUSHED_DESTINATION = 'pushed_destination'
# Ours: a push of the model already serving (components/atomic_pusher), the
# canary's findings (components/serving_canary), whether a model was serving
# when the run began and where (components/serving_baseline).
ALREADY_SERVING = 'already_serving'
PROBLEMS = 'problems'
HAS_MODEL = 'has_model'
SERVING_PATH = 'serving_path'

# The exported model's contract (modules/model.py): a tf.Example signature for
# TFMA and the canary, a raw-text one for clients, both answering P(positive).
EXAMPLES_SIGNATURE = 'serving_default'
TEXT_SIGNATURE = 'serving_text'
OUTPUT_KEY = 'probability'

# Where the Trainer module finds the unlabeled examples' files:
# fn_args.custom_config[UNLABELED_FILES_KEY], a list of file patterns
# (components/semi_supervised_trainer puts them there).
UNLABELED_FILES_KEY = 'unlabeled_files'
