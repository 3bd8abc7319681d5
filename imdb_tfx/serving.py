"""The serving directory: <serving_dir>/<version>/, one SavedModel per pushed
version, the highest version being the one served (TF Serving's policy).

A version appears whole or not at all: it is copied under a hidden name and
renamed into place (atomic on a POSIX filesystem), and nothing is ever deleted.
"""

import os
import shutil
import time
import uuid
from typing import List, Optional, Sequence

from imdb_tfx.errors import UserInputError


def versions(serving_dir: str) -> List[str]:
    """Complete pushed versions, oldest first (TF Serving's order: numeric)."""
    if not os.path.isdir(serving_dir):
        return []
    return sorted((v for v in os.listdir(serving_dir)
                   if v.isdigit() and os.path.exists(os.path.join(serving_dir, v, 'saved_model.pb'))),
                  key=int)


def newest(serving_dir: str) -> Optional[str]:
    found = versions(serving_dir)
    return os.path.join(serving_dir, found[-1]) if found else None


def same_model(a: str, b: str) -> bool:
    """Whether two SavedModel directories hold the same model (TF's fingerprint:
    hashes of the graph, signatures and variables)."""
    fingerprints = [os.path.join(d, 'fingerprint.pb') for d in (a, b)]
    if not all(os.path.exists(f) for f in fingerprints):
        return False
    with open(fingerprints[0], 'rb') as fa, open(fingerprints[1], 'rb') as fb:
        return fa.read() == fb.read()


def publish(model_dir: str, serving_dir: str) -> str:
    """Copies a SavedModel in as the new newest version; returns its path.

    The version is the Unix time, or one more than the newest version when
    that is not larger (two pushes in a second, a rollback's version)."""
    os.makedirs(serving_dir, exist_ok=True)
    existing = versions(serving_dir)
    version = max(int(time.time()), int(existing[-1]) + 1 if existing else 0)
    staging = os.path.join(serving_dir, f'.incomplete-{version}-{uuid.uuid4().hex[:8]}')
    try:
        shutil.copytree(model_dir, staging)
        os.rename(staging, os.path.join(serving_dir, str(version)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return os.path.join(serving_dir, str(version))


def predict(model_dir: str, texts: Sequence[str]) -> List[float]:
    """P(positive) for each text, through the model's raw-text signature."""
    import tensorflow as tf  # deferred: keeps the CLI's start fast

    from modules.model import OUTPUT_KEY, TEXT_SIGNATURE
    try:
        signature = tf.saved_model.load(model_dir).signatures[TEXT_SIGNATURE]
    except (OSError, KeyError) as e:
        raise UserInputError(f'{model_dir}: not a servable model ({e})') from e
    probabilities = signature(text=tf.constant(list(texts), tf.string))[OUTPUT_KEY]
    return [float(p) for p in probabilities.numpy()[:, 0]]
