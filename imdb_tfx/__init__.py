"""imdb-tfx: the command line and the offline tools around the TFX pipeline."""

import os

# Before TensorFlow is first imported: TF 2.16 defaults to Keras 3, while
# hub.KerasLayer, TFMA 0.47 and save_format="tf" need Keras 2 (tf_keras).
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
