"""Loads a SavedModel the way a model server would (in a fresh process) and
calls both serving signatures on real and edge-case inputs:

    python -m imdb_tfx.components.serving_canary.probe --model DIR --sample JSON \
        --max-batch-seconds S --report JSON

Checks: both signatures answer {"probability": float32 [batch, 1]}, finite and
in [0, 1]; they agree within AGREEMENT_TOLERANCE; every batch (up to 1,000
reviews) is served within the bound. Writes a JSON report; exits 0 even when
checks fail (the report says which), 1 when the probe itself could not run."""

import argparse
import json
import time
from typing import Dict, List

import numpy as np
import tensorflow as tf

from imdb_tfx.core.names import EXAMPLES_SIGNATURE, OUTPUT_KEY, TEXT_FEATURE, TEXT_SIGNATURE

AGREEMENT_TOLERANCE = 1e-4


def edge_cases(sample: List[str]) -> Dict[str, List[str]]:
    """Named batches of review texts to serve."""
    return {
        'eval sample': sample,
        'empty review': [''],
        'non-ASCII review': ['Ünïcödé — 映画は最高でした! Очень хороший фильм. 🎬👍'],
        '100 KB review': [('This film is a masterpiece of pacing and mood. ' * 2200)[:100_000]],
        'batch of 1': sample[:1],
        'batch of 1,000': (sample * (1000 // max(len(sample), 1) + 1))[:1000],
    }


def _as_examples(texts: List[str]) -> tf.Tensor:
    return tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(
                    feature={TEXT_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode('utf-8')]))}
                )
            ).SerializeToString()
            for t in texts
        ]
    )


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


def probe(model_dir: str, sample: List[str], max_batch_seconds: float) -> dict:
    model = tf.saved_model.load(model_dir)
    missing = {EXAMPLES_SIGNATURE, TEXT_SIGNATURE} - set(model.signatures)
    if missing:
        return {'passed': False, 'problems': [f'missing signatures: {sorted(missing)}'], 'batches': {}}
    by_text, by_examples = model.signatures[TEXT_SIGNATURE], model.signatures[EXAMPLES_SIGNATURE]
    problems, batches = [], {}
    for name, texts in edge_cases(sample).items():
        examples = _as_examples(texts)
        by_examples(examples=examples)  # warm-up: the first call traces
        started = time.perf_counter()
        text_out = by_text(text=tf.constant(texts))
        seconds = time.perf_counter() - started
        example_out = by_examples(examples=examples)
        found = _problems(f'{name} via {TEXT_SIGNATURE}', text_out, len(texts)) + _problems(
            f'{name} via {EXAMPLES_SIGNATURE}', example_out, len(texts)
        )
        if not found:
            gap = float(np.max(np.abs(text_out[OUTPUT_KEY].numpy() - example_out[OUTPUT_KEY].numpy())))
            if gap > AGREEMENT_TOLERANCE:
                found.append(f'{name}: the signatures disagree by {gap:.3g}')
        if seconds > max_batch_seconds:
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
