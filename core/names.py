"""Names the packages share: the examples' splits and features."""

# ImportExampleGen's labelled splits, each with one job: the Trainer fits on
# TRAIN and chooses (epochs, self-training rounds) on VALID; only the
# Evaluator and the serving canary read EVAL, so the gate's figure is unbiased.
TRAIN = 'train'
VALID = 'valid'
EVAL = 'eval'
LABELLED_SPLITS = (TRAIN, VALID, EVAL)
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
ACCURACY_DIFFERENCE_LOWER = 'accuracy_difference_lower'
ACCURACY_DIFFERENCE_UPPER = 'accuracy_difference_upper'
MCNEMAR_P_VALUE = 'mcnemar_p_value'  # two-sided, exact
CANDIDATE_ONLY_CORRECT = 'candidate_only_correct'
SERVING_ONLY_CORRECT = 'serving_only_correct'

# What the Trainer module writes beside its TensorBoard logs (model_run),
# for the report: per-epoch curves of the chosen model and of the first one
# with self-training, the self-training rounds, and the refit.
HISTORY_FILE = 'history.json'
TEACHER_HISTORY_FILE = 'teacher_history.json'
SELF_TRAINING_FILE = 'self_training.json'
REFIT_FILE = 'refit.json'
