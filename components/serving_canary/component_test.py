"""ServingCanary's executor on a model and examples on TensorFlow's in-memory
filesystem (ram://), which stands in for object storage and which the probe's
fresh process cannot see: the model must reach it as local files."""

import json
import os
import uuid

import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from imdb_tfx.components.serving_canary import component
from imdb_tfx.components.serving_canary.probe_test import length_score, save


def _examples(uri: str, texts) -> standard_artifacts.Examples:
    """ExampleGen's layout: gzipped TFRecords of tf.Examples per split."""
    examples = standard_artifacts.Examples()
    examples.uri = uri
    examples.split_names = '["eval"]'
    tf.io.gfile.makedirs(f'{uri}/Split-eval')
    with tf.io.TFRecordWriter(f'{uri}/Split-eval/data_tfrecord-00000-of-00001.gz', 'GZIP') as writer:
        for text in texts:
            writer.write(
                tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            'text': tf.train.Feature(
                                bytes_list=tf.train.BytesList(
                                    value=[text if isinstance(text, bytes) else text.encode()]
                                )
                            )
                        }
                    )
                ).SerializeToString()
            )
    return examples


def test_reviews_that_are_not_utf8_are_sampled_as_their_own_bytes(tmp_path):
    texts = component.eval_sample(_examples(str(tmp_path / 'examples'), [b'\xff\xfe bad', 'Fine.']).uri)
    assert [t.encode('utf-8', errors='surrogateescape') for t in texts] == [b'\xff\xfe bad', b'Fine.']
    assert json.loads(json.dumps(texts)) == texts  # as the probe's sample file carries them


def test_the_canary_probes_a_model_on_object_storage(tmp_path):
    root = f'ram://{uuid.uuid4().hex}'
    model = standard_artifacts.Model()
    model.uri = f'{root}/model'
    io_utils.copy_dir(save(tmp_path, length_score), f'{model.uri}/Format-Serving')  # Trainer's layout
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = f'{root}/blessing'

    component.ServingCanary.EXECUTOR_SPEC.executor_class().Do(
        {'model': [model], 'examples': [_examples(f'{root}/examples', ['A fine film.', 'Dreadful.'])]},
        {'blessing': [blessing]},
        {'max_batch_seconds': 10.0},
    )

    report = json.loads(io_utils.read_string_file(os.path.join(blessing.uri, component.REPORT_FILE)))
    assert report['passed'], report['problems']
    assert blessing.get_int_custom_property('blessed') == 1


def test_the_canary_serves_reviews_that_are_not_utf8(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / 'trainer' / 'model')
    io_utils.copy_dir(save(tmp_path, length_score), f'{model.uri}/Format-Serving')
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / 'blessing')
    examples = _examples(str(tmp_path / 'examples'), [b'\xff\xfe bad', 'Fine.'])

    component.ServingCanary.EXECUTOR_SPEC.executor_class().Do(
        {'model': [model], 'examples': [examples]}, {'blessing': [blessing]}, {'max_batch_seconds': 10.0}
    )

    report = json.loads(io_utils.read_string_file(os.path.join(blessing.uri, component.REPORT_FILE)))
    assert report['passed'], report['problems']
