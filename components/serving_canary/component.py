"""ServingCanary: what InfraValidator does with a model server (which needs
Docker or Kubernetes), done by loading the candidate in a fresh process and
serving real and edge-case reviews through both signatures. Its InfraBlessing
gates the Pusher together with the Evaluator's blessing."""

import json
import os
import subprocess
import sys
import tempfile

import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import io_utils, path_utils

from imdb_tfx.core import names, serving

REPORT_FILE = 'canary.json'
SAMPLE_SIZE = 200


def eval_sample(examples_uri: str, size: int = SAMPLE_SIZE) -> list:
    """The first `size` review texts of the eval split. Bytes that are not
    UTF-8 (users' own TFRecords) are kept as surrogates, which the probe
    turns back into the same bytes (probe.review_bytes)."""
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f'Split-{names.EVAL}', '*')))
    records = tf.data.TFRecordDataset(files, compression_type='GZIP').take(size)
    return [
        tf.train.Example.FromString(r.numpy())
        .features.feature[names.TEXT_FEATURE]
        .bytes_list.value[0]
        .decode('utf-8', errors='surrogateescape')
        for r in records
    ]


@component
def ServingCanary(
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    blessing: OutputArtifact[standard_artifacts.InfraBlessing],
    max_batch_seconds: Parameter[float] = 2.0,
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        # The probe's fresh process shares no ram:// with this one, and on s3:// would
        # have to register it and then abort at exit (core/s3.py): it reads local files.
        model_dir = serving.stage_locally(path_utils.serving_model_path(model.uri), scratch)
        sample_file, report_file = os.path.join(scratch, 'sample.json'), os.path.join(scratch, 'report.json')
        with open(sample_file, 'w', encoding='utf-8') as f:
            json.dump(eval_sample(examples.uri), f)
        # A fresh process: nothing of this one (loaded modules, graphs) helps the model serve.
        subprocess.run(
            [
                sys.executable,
                '-m',
                'imdb_tfx.components.serving_canary.probe',
                '--model',
                model_dir,
                '--sample',
                sample_file,
                '--max-batch-seconds',
                str(max_batch_seconds),
                '--report',
                report_file,
            ],
            check=True,
        )
        with open(report_file, encoding='utf-8') as f:
            report = json.load(f)
    io_utils.write_string_file(os.path.join(blessing.uri, REPORT_FILE), json.dumps(report, indent=2))
    # InfraValidator's conventions, which Pusher checks.
    marker = 'INFRA_BLESSED' if report['passed'] else 'INFRA_NOT_BLESSED'
    io_utils.write_string_file(os.path.join(blessing.uri, marker), '')
    blessing.set_int_custom_property('blessed', int(report['passed']))
    if not report['passed']:
        blessing.set_string_custom_property('problems', '; '.join(report['problems'])[:2000])
