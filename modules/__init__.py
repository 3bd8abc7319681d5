"""User modules run inside TFX components (the Trainer's run_fn and its model)."""

import core  # noqa: F401  (Keras 2 for TensorFlow, before anything imports it)
