"""The serving directory Pusher writes: <serving_dir>/<version>/, one
SavedModel per pushed version, the highest version being the one served."""

import os
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
