"""What kubeflow/Dockerfile puts into the pipeline image: the compiled pipeline
points the pods at these paths, and tests/test_kubeflow.py checks the
Dockerfile against them."""

DEFAULT_TAG = 'imdb-tfx:0.1.0'
SCHEMA_FILE = '/opt/imdb-tfx/schema.pbtxt'
# One GloVe 6B 50d module per recipe (see runner.image_hub_handle).
EMBEDDINGS_DIR = '/opt/imdb-tfx/embeddings'
