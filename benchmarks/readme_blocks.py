"""README.md's generated blocks, between `<!-- generated: NAME -->` and
`<!-- end: NAME -->`: the pipeline's DAG, drawn from create_pipeline as
`imdb-tfx run` builds it, and the results table, from the files the
measuring code wrote (benchmarks/default_run.json, results.json and
large_data.json).
Every figure in README comes from here, so none is retyped.

    python -m benchmarks.readme_blocks           # rewrite the blocks
    python -m benchmarks.readme_blocks --check   # exit 1 when README is stale"""

import argparse
import dataclasses
import json
import os
import re
import sys
from typing import Callable, Dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, 'README.md')
BLOCK = re.compile(r'(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)', re.S)
DEFAULT_RUN = os.path.join(REPO, 'benchmarks', 'default_run.json')
BENCH = os.path.join(REPO, 'benchmarks', 'results.json')


def pipeline_dag() -> str:
    """The default pipeline's nodes and edges as a Mermaid flowchart."""
    from imdb_tfx.pipeline import local_runner, options
    from imdb_tfx.pipeline.config import Locations
    from imdb_tfx.pipeline.pipeline import create_pipeline

    config = options.from_options(options.parse_options([]))
    locations = Locations(pipeline_root='/home/tfx', data_root='/data', serving_dir='/home/serving')
    training = dataclasses.replace(config.training, glove_dir='/home/downloads')
    pipeline = create_pipeline(locations, config.data, training, config.gate)
    lines = ['```mermaid', 'flowchart LR']
    for node in local_runner.compile_ir(pipeline).nodes:
        node_id = node.pipeline_node.node_info.id
        lines += [f'  {upstream} --> {node_id}' for upstream in node.pipeline_node.upstream_nodes]
    return '\n'.join([*lines, '```'])


def _minutes(seconds: float) -> str:
    return f'{int(seconds // 60)} min {int(seconds % 60):02d} s'


def results_table() -> str:
    """The default run's evaluation and cost, and the benchmark's headline figures."""
    with open(DEFAULT_RUN, encoding='utf-8') as f:
        run = json.load(f)
    with open(BENCH, encoding='utf-8') as f:
        bench = json.load(f)
    low, high = run['accuracy_interval']
    by = '`python -m benchmarks.default_run`'
    module = {row['batch']: row for row in bench['text_module']['rows']}
    rows = [
        (
            f'eval accuracy of the default run, `{run["recipe"]}` recipe (95% interval; {run["eval_reviews"]:,} '
            'reviews of movies held out of training)',
            f'{run["accuracy"]:.4f} [{low:.4f}, {high:.4f}]',
            by,
        ),
        ('AUC', f'{run["auc"]:.4f}', by),
        ('expected calibration error (20 bins)', f'{run["expected_calibration_error"]:.4f}', by),
        (
            f'wall time of the run ({run["cores"]} cores), and of its Trainer',
            _minutes(run['seconds']) + f' ({_minutes(run["trainer_seconds"])})',
            by,
        ),
        ('pushed SavedModel', f'{run["model_bytes"] / 1e6:.0f} MB', by),
        ('lines the run printed (benchmarks/default_run_console.txt)', str(run['console_lines']), by),
        (
            'pipeline / plain Keras script wall time (`seed` recipe, 25,000 reviews)',
            f'{bench["plain_vs_pipeline"]["ratio"]:.2f}x',
            '`make bench`',
        ),
        (
            'peak memory of a pipeline run (`seed` recipe, 25,000 reviews)',
            f'{bench["components"]["peak_rss_bytes"] / 1e9:.2f} GB',
            '`make bench`',
        ),
        (
            'serving throughput of the default text module, batch 1 / 1,000',
            f'{module[1]["today_reviews_per_second"]:,.0f} / {module[1000]["today_reviews_per_second"]:,.0f} reviews/s',
            '`make bench`',
        ),
        (
            "the default text module's throughput against the previous default's (commit "
            f'{bench["text_module"]["previous_commit"]}), batch 1 / 1,000',
            f'{module[1]["against_previous"]:.2f}x / {module[1000]["against_previous"]:.2f}x',
            '`make bench`',
        ),
    ]
    rows.append(_large_data_row())
    table = ['| | | measured by |', '|---|---|---|', *(f'| {a} | {b} | {c} |' for a, b, c in rows)]
    return '\n'.join(table)


def _large_data_row() -> tuple:
    from benchmarks import large_data, report

    result = report.read_json(large_data.HERE, 'large_data')
    first, last = result['rows'][0], result['rows'][-1]
    return (
        f'default run at {last["labelled"]:,} labelled reviews: peak memory, and cost per 1,000 reviews against '
        f'{first["labelled"]:,}',
        f'{last["peak_rss_bytes"] / 1e9:.2f} GB, {large_data.cost_ratio(result):.2f}x',
        '`python -m benchmarks.large_data`',
    )


RENDERERS: Dict[str, Callable[[], str]] = {'pipeline-dag': pipeline_dag, 'results': results_table}


def refreshed(text: str) -> str:
    def render(match: re.Match) -> str:
        return f'{match.group(1)}{RENDERERS[match.group("name")]()}\n{match.group(4)}'

    return BLOCK.sub(render, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m benchmarks.readme_blocks', description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true', help='Exit 1 when README.md is not what the files say.')
    args = parser.parse_args(argv)
    with open(README, encoding='utf-8') as f:
        text = f.read()
    new = refreshed(text)
    if args.check:
        if new != text:
            print('README.md is stale: run python -m benchmarks.readme_blocks', file=sys.stderr)
        return int(new != text)
    with open(README, 'w', encoding='utf-8') as f:
        f.write(new)
    return 0


if __name__ == '__main__':
    sys.exit(main())
