"""What the pipeline costs against the plain Keras script: `python -m benchmarks`
(or `make bench`) writes benchmarks/results.md and results.json. See README.md here."""
