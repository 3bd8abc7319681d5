"""The ExampleGens over prepare-data's output: how its files become the
train, valid and eval splits, and the unlabeled reviews' one split."""

from typing import Optional, Tuple

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from imdb_tfx.core import names
from imdb_tfx.pipeline.config import DataConfig
from imdb_tfx.pipeline.configs import SPLIT_MOVIE, SPLIT_SOURCE

# prepare-data's folder of reviews without labels.
UNLABELED_PATTERN = 'unsup/*'
# prepare-data's shards of train/ (data-00000-of-00010.tfrecord.gz, ...): the
# first one, and every other one (an index with a non-zero digit).
SOURCE_VALID_PATTERN = 'train/data-00000-of-*'
SOURCE_TRAIN_PATTERN = 'train/data-*[1-9]*-of-*'


def _in_span(pattern: str, spans: bool) -> str:
    """A pattern of prepare-data's output, inside the newest span of a spans
    folder (ImportExampleGen resolves {SPAN} to the largest span number)."""
    return f'{names.SPAN_DIR_PATTERN}/{pattern}' if spans else pattern


def split_configs(
    data: DataConfig, spans: bool = False
) -> Tuple[example_gen_pb2.Input, Optional[example_gen_pb2.Output]]:
    """(input_config, output_config) for ImportExampleGen over prepare-data's
    output (or the newest span of a spans folder): train, valid and eval in
    split_buckets' ratio (hash buckets of movie_id or of the example). With
    the source split, eval is the source's test/ and valid is the first of
    prepare-data's train/ shards (files, since ImportExampleGen cannot split
    an input split further)."""
    if data.split == SPLIT_SOURCE and spans:
        raise ValueError('spans have no source test split: use the movie or random split')
    if data.split == SPLIT_SOURCE:
        return example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name=names.TRAIN, pattern=SOURCE_TRAIN_PATTERN),
                example_gen_pb2.Input.Split(name=names.VALID, pattern=SOURCE_VALID_PATTERN),
                example_gen_pb2.Input.Split(name=names.EVAL, pattern='test/*'),
            ]
        ), None
    output = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in zip(names.LABELLED_SPLITS, data.split_buckets)
            ],
            partition_feature_name=names.MOVIE_FEATURE if data.split == SPLIT_MOVIE else None,
        )
    )
    train = example_gen_pb2.Input.Split(name=names.TRAIN, pattern=_in_span('train/*', spans))
    return example_gen_pb2.Input(splits=[train]), output


def labelled_example_gen(data_root, data: DataConfig, spans: bool = False) -> tfx.components.ImportExampleGen:
    input_config, output_config = split_configs(data, spans)
    return tfx.components.ImportExampleGen(
        input_base=data_root, input_config=input_config, output_config=output_config
    ).with_id(names.EXAMPLE_GEN)


def unlabeled_example_gen(data_root, spans: bool = False) -> tfx.components.ImportExampleGen:
    """prepare-data's unlabeled reviews, all in one split (ImportExampleGen
    would split a single input 2:1 into train/eval by default)."""
    return tfx.components.ImportExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=names.UNLABELED, pattern=_in_span(UNLABELED_PATTERN, spans))]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=names.UNLABELED, hash_buckets=1)]
            )
        ),
    ).with_id(names.UNLABELED_EXAMPLE_GEN)
