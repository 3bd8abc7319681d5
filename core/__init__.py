"""What every package shares and imports downward: names, errors, the pipeline
home, the serving directory, atomic writes, s3:// and the gate's intervals.
It imports nothing else of the project; imdb_tfx's __init__ imports it
first, so that the setting below precedes TensorFlow's import."""

import os

# TF 2.16 defaults to Keras 3, while hub.KerasLayer, TFMA 0.47 and
# save_format="tf" need Keras 2 (tf_keras). It must be set before TensorFlow
# is first imported, in every process (the canary's probe, Kubeflow's pods).
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
