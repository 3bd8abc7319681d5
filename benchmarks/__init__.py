"""What the pipeline costs against the plain Keras script: `python -m benchmarks`
(or `make bench`) writes benchmarks/results.md and results.json. See README.md here."""

import imdb_tfx  # noqa: F401  (Keras 2 for TensorFlow, before anything imports it)
