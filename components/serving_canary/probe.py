"""Loads a SavedModel the way a model server would (in a fresh process) and
calls both serving signatures on real and edge-case inputs:

    python -m imdb_tfx.components.serving_canary.probe --model DIR --sample JSON \
        --max-batch-seconds S --report JSON

Checks: both signatures answer {"probability": float32 [batch, 1]}, finite and
in [0, 1]; they agree within AGREEMENT_TOLERANCE; every batch (up to 1,000
reviews) is served within the bound. Writes a JSON report; exits 0 even when
checks fail (the report says which), 1 when the probe itself could not run.

Reviews are served as the bytes they are (both signatures take tf.string):
text that is not UTF-8, as users' own TFRecords may hold, is never decoded
here. The sample file is JSON, so it carries such a review as a str decoded
with errors='surrogateescape' (json writes its lone surrogates as \\udcXX),
which the probe turns back into the original bytes. A signature that cannot
serve a batch (an op error) is a problem in the report, not a crash."""

import argparse
import json
import time
from typing import Dict, List, Union

import numpy as np
import tensorflow as tf

from imdb_tfx.core.names import EXAMPLES_SIGNATURE, OUTPUT_KEY, TEXT_FEATURE, TEXT_SIGNATURE

AGREEMENT_TOLERANCE = 1e-4

Review = Union[str, bytes]


def review_bytes(review: Review) -> bytes:
    """The bytes a review is served as: bytes unchanged; a str as UTF-8, its
    lone surrogates (a str decoded with errors='surrogateescape') back as the
    bytes they stand for, and any other lone surrogate as it is encoded
    (surrogatepass): never a UnicodeEncodeError."""
    if isinstance(review, bytes):
        return review
    try:
        return review.encode('utf-8', 'surrogateescape')
    except UnicodeEncodeError:
        return review.encode('utf-8', 'surrogatepass')


def edge_cases(sample: List[Review]) -> Dict[str, List[Review]]:
    """Named batches of review texts to serve."""
    return {
        'eval sample': sample,
        'empty review': [''],
        'non-ASCII review': ['Ünïcödé — 映画は最高でした! Очень хороший фильм. 🎬👍'],
        '100 KB review': [('This film is a masterpiece of pacing and mood. ' * 2200)[:100_000]],
        'batch of 1': sample[:1],
        'batch of 1,000': (sample * (1000 // max(len(sample), 1) + 1))[:1000],
    }


def _as_examples(texts: List[bytes]) -> tf.Tensor:
    return tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(
                    feature={TEXT_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[t]))}
                )
            ).SerializeToString()
            for t in texts
        ],
        dtype=tf.string,
    )


def _serve(signature, name: str, **inputs):
    """(outputs, None), or (None, the problem) when the signature cannot serve the batch."""
    try:
        return signature(**inputs), None
    except (tf.errors.OpError, ValueError, TypeError) as e:
        message = (getattr(e, 'message', None) or str(e)).strip().splitlines()
        return None, f'{name}: could not serve the batch ({type(e).__name__}: {message[0] if message else ""})'


def _problems(name: str, outputs, batch: int) -> List[str]:
    if set(outputs) != {OUTPUT_KEY}:
        return [f'{name}: outputs {sorted(outputs)}, expected ["{OUTPUT_KEY}"]']
    p = outputs[OUTPUT_KEY]
    if p.dtype != tf.float32 or p.shape != (batch, 1):
        return [f'{name}: {p.dtype.name} {p.shape.as_list()}, expected float32 [{batch}, 1]']
    values = p.numpy()
    if not np.all(np.isfinite(values)):
        return [f'{name}: {int(np.sum(~np.isfinite(values)))} non-finite probabilities']
    if values.min() < 0 or values.max() > 1:
        return [f'{name}: probabilities outside [0, 1] ({values.min():.4g}..{values.max():.4g})']
    return []


def probe(model_dir: str, sample: List[Review], max_batch_seconds: float) -> dict:
    model = tf.saved_model.load(model_dir)
    missing = {EXAMPLES_SIGNATURE, TEXT_SIGNATURE} - set(model.signatures)
    if missing:
        return {'passed': False, 'problems': [f'missing signatures: {sorted(missing)}'], 'batches': {}}
    by_text, by_examples = model.signatures[TEXT_SIGNATURE], model.signatures[EXAMPLES_SIGNATURE]
    problems, batches = [], {}
    for name, reviews in edge_cases(sample).items():
        texts = [review_bytes(r) for r in reviews]
        examples = _as_examples(texts)
        via_text, via_examples = f'{name} via {TEXT_SIGNATURE}', f'{name} via {EXAMPLES_SIGNATURE}'
        _serve(by_examples, via_examples, examples=examples)  # warm-up: the first call traces
        started = time.perf_counter()
        text_out, text_problem = _serve(by_text, via_text, text=tf.constant(texts, dtype=tf.string))
        seconds = time.perf_counter() - started
        example_out, example_problem = _serve(by_examples, via_examples, examples=examples)
        found = [text_problem] if text_problem else _problems(via_text, text_out, len(texts))
        found += [example_problem] if example_problem else _problems(via_examples, example_out, len(texts))
        if not found:
            gap = float(np.max(np.abs(text_out[OUTPUT_KEY].numpy() - example_out[OUTPUT_KEY].numpy())))
            if gap > AGREEMENT_TOLERANCE:
                found.append(f'{name}: the signatures disagree by {gap:.3g}')
        if not text_problem and seconds > max_batch_seconds:
            found.append(f'{name}: {seconds:.3f} s for {len(texts)} reviews, bound {max_batch_seconds} s')
        batches[name] = {'size': len(texts), 'seconds': round(seconds, 4), 'problems': found}
        problems += found
    return {'passed': not problems, 'problems': problems, 'batches': batches}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', required=True)
    parser.add_argument('--sample', required=True, help='JSON list of review texts')
    parser.add_argument('--max-batch-seconds', type=float, required=True)
    parser.add_argument('--report', required=True)
    args = parser.parse_args()
    with open(args.sample, encoding='utf-8') as f:
        sample = json.load(f)
    report = probe(args.model, sample, args.max_batch_seconds)
    with open(args.report, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
