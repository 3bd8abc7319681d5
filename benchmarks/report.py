"""results.md and results.json: the machine, the targets, one table per part,
and where a target is missed, what dominates."""

import json
import os
from typing import List, Optional, Sequence, Tuple

from imdb_tfx.core import names

GB = 1e9
RATIO_TARGET = 1.5
RSS_TARGET_BYTES = 6 * GB
SERVING_TARGET = 20_000  # reviews/s through serving_text at batch 1,000
SERVING_TARGET_BATCH = 1000
# Part 6: the default recipe's text module against the reference module.
TEXT_MODULE_BATCHES = (1, 1000)
TEXT_MODULE_SPEEDUP_TARGET = 2.0
TEXT_MODULE_RATE_TARGET = 25_000  # reviews/s at SERVING_TARGET_BATCH

# What would shrink each cost, for the commentary on a missed ratio.
REMEDIES = {
    'Trainer beyond the plain fit': "this is the Trainer's own extra work: parsing tf.Examples every "
    'epoch and exporting the SavedModel with its signatures',
    names.EXAMPLE_GEN: 'TFX caching skips it when the data has not changed',
    names.STATISTICS_GEN: 'TFX caching skips it when the data has not changed; sampled statistics '
    '(StatsOptions.sample_rate) or a faster Beam mode (part 5) shorten it',
    names.EVALUATOR: 'fewer slices or a faster Beam mode (part 5) shorten it',
    names.SERVING_CANARY: 'most of it is loading the model in a fresh process, the price of an honest probe',
    'outside the DAG': 'process start, imports, compiling the pipeline and the run report are paid '
    'once per run: a long-lived runner (or Kubeflow) amortises them',
    'between components': 'MLMD bookkeeping and drivers, per node',
}


def seconds(value: Optional[float]) -> str:
    return '' if value is None else f'{value:,.1f} s'


def gigabytes(value: Optional[float]) -> str:
    return '' if value is None else f'{value / GB:.2f} GB'


def percent(value: float) -> str:
    return f'{100 * value:.0f}%'


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def targets(results: dict) -> List[dict]:
    """The issue's targets as measured; measured None: that part did not run."""
    versus, parts, served = (results.get(k) for k in ('plain_vs_pipeline', 'components', 'serving'))
    module = results.get('text_module')
    ratio = versus['ratio'] if versus else None
    peaks = [p['peak_rss_bytes'] for p in (versus and versus['pipeline'], parts) if p]
    peak = max(peaks) if peaks else None
    rate = text_rate(served) if served else None
    size = (versus or parts or {}).get('size')
    on = f' ({size:,} reviews)' if size else ''
    return [
        {
            'target': f'pipeline / plain script wall time{on}',
            'goal': f'<= {RATIO_TARGET}',
            'measured': None if ratio is None else f'{ratio:.2f}',
            'met': None if ratio is None else ratio <= RATIO_TARGET,
        },
        {
            'target': f'peak RSS of the whole pipeline run{on}',
            'goal': '<= 6 GB',
            'measured': None if peak is None else gigabytes(peak),
            'met': None if peak is None else peak <= RSS_TARGET_BYTES,
        },
        {
            'target': f'serving_text at batch {SERVING_TARGET_BATCH:,}',
            'goal': f'>= {SERVING_TARGET:,} reviews/s',
            'measured': None if rate is None else f'{rate:,.0f} reviews/s',
            'met': None if rate is None else rate >= SERVING_TARGET,
        },
        *text_module_targets(module),
    ]


def text_module_targets(module: Optional[dict]) -> List[dict]:
    """Today's text module against the reference (part 6), and its own rate."""
    rows = module['rows'] if module else [{'batch': b} for b in TEXT_MODULE_BATCHES]
    targets = [
        {
            'target': f"text module: today's against the reference at batch {r['batch']:,}",
            'goal': f'>= {TEXT_MODULE_SPEEDUP_TARGET:g}x',
            'measured': f'{r["speedup"]:.2f}x' if module else None,
            'met': r['speedup'] >= TEXT_MODULE_SPEEDUP_TARGET if module else None,
        }
        for r in rows
    ]
    targets += [
        {
            'target': f"text module: today's against the previous default's at batch {r['batch']:,}",
            'goal': '>= 1.00x',
            'measured': f'{r["against_previous"]:.2f}x' if module else None,
            'met': r['against_previous'] >= 1 if module else None,
        }
        for r in rows
    ]
    rate = next((r['today_reviews_per_second'] for r in rows if module and r['batch'] == SERVING_TARGET_BATCH), None)
    targets.append(
        {
            'target': f"text module: today's at batch {SERVING_TARGET_BATCH:,} (default recipe)",
            'goal': f'>= {TEXT_MODULE_RATE_TARGET:,} reviews/s',
            'measured': None if rate is None else f'{rate:,.0f} reviews/s',
            'met': None if rate is None else rate >= TEXT_MODULE_RATE_TARGET,
        }
    )
    return targets


def text_rate(served: dict) -> Optional[float]:
    """serving_text's reviews/s at the target's batch (None: batch not measured)."""
    return next(
        (
            r['reviews_per_second']
            for r in served['rows']
            if r['signature'] == 'serving_text' and r['batch'] == SERVING_TARGET_BATCH
        ),
        None,
    )


def commentary(results: dict) -> List[str]:
    """One paragraph per missed target: what dominates, what would fix it."""
    missed = [t['target'] for t in results['targets'] if t['met'] is False]
    versus, parts, scaled = (results.get(k) for k in ('plain_vs_pipeline', 'components', 'scaling'))
    notes = []
    if versus and parts and any(m.startswith('pipeline / plain') for m in missed):
        costs = [(r['component'], r['seconds']) for r in parts['rows'] if r['component'] != names.TRAINER]
        costs += [
            ('Trainer beyond the plain fit', versus['pipeline']['trainer_seconds'] - versus['plain']['fit_seconds']),
            ('outside the DAG', parts['outside_dag_seconds']),
            ('between components', parts['between_components_seconds']),
        ]
        costs.sort(key=lambda c: -c[1])
        extra = versus['pipeline']['seconds'] - versus['plain']['seconds']
        note = (
            f'**Pipeline / plain script missed**: the pipeline takes {seconds(extra)} more than '
            f'the plain script. Largest costs beyond the plain fit: '
            + ', '.join(f'{name} {seconds(s)}' for name, s in costs[:4])
            + '. '
            + ' '.join(f'{name}: {REMEDIES[name]}.' for name, _ in costs[:2] if name in REMEDIES)
        )
        if scaled and scaled['ratio']:
            note += (
                ' The ratio by data size: '
                + ', '.join(f'{x:.2f}x at {n:,}' for n, x in zip(scaled['sizes'], scaled['ratio']))
                + '.'
            )
        notes.append(note)
    if parts and any(m.startswith('peak RSS') for m in missed):
        top = max(parts['rows'], key=lambda r: r['peak_rss_bytes'])
        notes.append(
            f'**Peak RSS missed**: the peak comes while {top["component"]} runs '
            f'({gigabytes(top["peak_rss_bytes"])}, {gigabytes(top["rss_growth_bytes"])} of it '
            f'grown during it); memory kept by earlier components of the same process adds to it.'
        )
    if any(m.startswith('serving_text') for m in missed):
        served = results['serving']
        rate, alone = text_rate(served), served['embedding_alone']['reviews_per_second']
        notes.append(
            f'**Serving throughput missed**: serving_text serves {rate:,.0f} reviews/s at batch '
            f'{SERVING_TARGET_BATCH:,}; the embedding module alone (tokenizing, vocabulary lookup, '
            f'combining) serves {alone:,.0f} reviews/s, about {min(100, 100 * rate / alone):.0f}% of '
            f"serving_text's time. What would fix it is in the text module, not the Dense head: a "
            f'cheaper tokenizer than its regular expressions over every review, pre-tokenized '
            f'requests, or more cores ({results["machine"]["cores"]} here).'
        )
    if any(m.startswith('text module') for m in missed):
        notes.append(
            '**Text module targets missed**: the per-op profiles (benchmarks/text_module_profile_before.md '
            'and text_module_profile.md) show where the time goes; what is left is splitting the text into '
            "tokens and the gather-and-sum over the table's rows, which every bag-of-n-grams module pays."
        )
    return notes


def page_heading(title: str, module: str, result: dict) -> str:
    """A result page's title and first sentence: what ran, when, on what machine."""
    machine = result['machine']
    return (
        f'# {title}\n\n`python -m benchmarks.{module}` on {result["date"]}: {machine["cores"]} cores, '
        f'{gigabytes(machine["memory_bytes"])} memory.'
    )


def read_json(output_dir: str, stem: str) -> dict:
    """STEM.json of OUTPUT_DIR as write_json_and_markdown wrote it; {} before the first."""
    path = os.path.join(output_dir, f'{stem}.json')
    if not os.path.exists(path):
        return {}
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def write_json_and_markdown(output_dir: str, stem: str, result: dict, markdown: str) -> None:
    """STEM.json (every number) and STEM.md (the page) in OUTPUT_DIR, made
    if missing: a benchmark writes at its end, after all its work."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, f'{stem}.json'), 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=2, sort_keys=True)
    with open(os.path.join(output_dir, f'{stem}.md'), 'w', encoding='utf-8') as f:
        f.write(markdown)


def write(results: dict, sections: List[Tuple[str, str]], output_dir: str) -> Tuple[str, str]:
    """results.json (every number) and results.md (the tables)."""
    os.makedirs(output_dir, exist_ok=True)
    json_path, md_path = os.path.join(output_dir, 'results.json'), os.path.join(output_dir, 'results.md')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=2, sort_keys=True, default=str)
        f.write('\n')
    m, config = results['machine'], results['config']
    lines = [
        '# Benchmark: the pipeline against the plain script',
        '',
        f'`{config["command"]}` on {m["date"]}: {m["cores"]} cores ({m["cpu_model"]}), '
        f'{m["memory_bytes"] / GB:.1f} GB memory, load average {m["load_average_at_start"][0]} at the '
        f'start; Python {m["python"]}, '
        + ', '.join(f'{k} {v}' for k, v in m['versions'].items() if v)
        + f'. Total benchmark time {seconds(results["total_seconds"])}.',
        '',
        f'Data `{config["data"]}`; recipe `seed` on both sides (embedding `{config["hub"]}`, built once '
        f'before any timing, so neither side pays for it), epochs {config["epochs"]}, batch '
        f'{config["batch_size"]}, learning rate {config["learning_rate"]}, movie-grouped '
        f'{":".join(map(str, config["split_buckets"]))} train:valid:eval split. Every pipeline run '
        f'is `imdb-tfx run --recipe seed --no-cache --min-accuracy 0` in a fresh home (the floor at 0 so '
        f'that every run does the whole work, push included). Memory is the peak RSS of the whole process '
        f'tree, sampled every 0.2 s.',
        '',
        '## Targets',
        '',
        markdown_table(
            ['target', 'goal', 'measured', 'met?'],
            [
                [
                    t['target'],
                    t['goal'],
                    'not run' if t['measured'] is None else t['measured'],
                    '' if t['met'] is None else 'yes' if t['met'] else '**no**',
                ]
                for t in results['targets']
            ],
        ),
    ]
    notes = commentary(results)
    if notes:
        lines += [''] + [n + '\n' for n in notes]
    for title, body in sections:
        lines += ['', f'## {title}', '', body]
    with open(md_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines).rstrip() + '\n')
    return md_path, json_path
