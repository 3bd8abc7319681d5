"""The IMDB TFX pipeline: one create_pipeline(...) for every runner."""

import os

# Before TensorFlow is first imported: hub.KerasLayer and TFMA need Keras 2.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
