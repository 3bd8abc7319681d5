"""imdb-tfx: the command line and the offline tools around the TFX pipeline."""

import core  # noqa: F401  (Keras 2 for TensorFlow, before anything imports it)
