"""The files the pipeline image holds beside the code, so that pods need no
internet: the curated schema, the GloVe 6B 50d wheel (EmbeddingBuilder builds
a data-vocabulary recipe's module from it in the pipeline) and the module of
every other recipe.

    python -m imdb_tfx.kubeflow.image_files DIR

kubeflow/Dockerfile runs it with DIR = image.IMAGE_ROOT; run here, it makes a
local copy for `imdb-tfx kfp-local --mount /opt/imdb-tfx=DIR`."""

import argparse
import os
import shutil
from typing import Dict

from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.kubeflow import image
from imdb_tfx.kubeflow.runner import image_hub_handle
from imdb_tfx.modules import text_embedding
from imdb_tfx.pipeline import configs, recipes


def _local(root: str, image_path: str) -> str:
    return os.path.join(root, os.path.relpath(image_path, image.IMAGE_ROOT))


def embedding_modules() -> Dict[str, recipes.EmbeddingSpec]:
    """{path of the module under IMAGE_ROOT: its spec}, one per distinct
    recipe module that does not depend on the data."""
    return {
        os.path.relpath(image_hub_handle(r.embedding), image.IMAGE_ROOT): r.embedding
        for r in recipes.RECIPES.values()
        if not r.embedding.data_vocabulary
    }


def write(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    shutil.copyfile(configs.SCHEMA_FILE, _local(root, image.SCHEMA_FILE))
    words, vectors = word_vectors.load_glove_6b_50d(_local(root, image.GLOVE_DIR))
    for path, spec in embedding_modules().items():
        output = os.path.join(root, path)
        if not os.path.exists(os.path.join(output, 'saved_model.pb')):
            text_embedding.build_text_embedding(words, vectors, output, **spec.module_options)
        print(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help=f'Where to write ({image.IMAGE_ROOT} in the image).')
    args = parser.parse_args()
    write(args.root)


if __name__ == '__main__':
    main()
