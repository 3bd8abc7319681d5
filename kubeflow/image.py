"""What kubeflow/Dockerfile puts into the pipeline image: the compiled pipeline
points the pods at these paths, and tests/test_kubeflow.py checks the
Dockerfile against them."""

DEFAULT_TAG = 'imdb-tfx:0.1.0'
# What `python -m kubeflow.image_files IMAGE_ROOT` writes in the image.
IMAGE_ROOT = '/opt/imdb-tfx'
SCHEMA_FILE = f'{IMAGE_ROOT}/schema.pbtxt'
# One GloVe 6B 50d module per recipe (see runner.image_hub_handle).
EMBEDDINGS_DIR = f'{IMAGE_ROOT}/embeddings'
