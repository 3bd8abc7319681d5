"""The IMDB TFX pipeline: one create_pipeline(...) for every runner."""

import core  # noqa: F401  (Keras 2 for TensorFlow, before anything imports it)
