"""Part 2: where the pipeline's time and memory go, per component.

Wall times are ML Metadata's (execution created -> last updated). LocalDagRunner
runs every component in one process (the canary adds a probe process), so a
component's memory is the sampled peak RSS of that process tree while the
component ran (benchmarks.measure), and its growth is that peak minus the RSS
when it started: memory held by earlier components counts in both."""

import statistics
from typing import List

from benchmarks import report
from benchmarks.runs import PipelineResult


def collect(size: int, pipelines: List[PipelineResult]) -> dict:
    runs = [p.summary for p in pipelines]
    total = statistics.median(r['seconds'] for r in runs)
    rows = []
    for component in [c['component'] for c in runs[0]['components']]:
        per_run = [next(c for c in r['components'] if c['component'] == component) for r in runs]
        seconds = statistics.median(c['seconds'] for c in per_run)
        peak = max(c['peak_rss_bytes'] or 0 for c in per_run)
        rows.append(
            {
                'component': component,
                'seconds': seconds,
                'share': seconds / total,
                'peak_rss_bytes': peak,
                'rss_growth_bytes': max(peak - (c['rss_at_start_bytes'] or 0) for c in per_run),
            }
        )
    outside = statistics.median(r['outside_dag_seconds'] for r in runs)
    between = statistics.median(r['between_components_seconds'] for r in runs)
    return {
        'size': size,
        'repeats': len(runs),
        'seconds': total,
        'peak_rss_bytes': max(r['peak_rss_bytes'] for r in runs),
        'peak_process_rss_bytes': max(r['peak_process_rss_bytes'] for r in runs),
        'rows': rows,
        'outside_dag_seconds': outside,
        'between_components_seconds': between,
    }


def table(result: dict) -> str:
    total = result['seconds']
    rows = [
        [
            r['component'],
            report.seconds(r['seconds']),
            report.percent(r['share']),
            report.gigabytes(r['peak_rss_bytes']),
            report.gigabytes(r['rss_growth_bytes']),
        ]
        for r in result['rows']
    ]
    rows += [
        [
            'between components (MLMD, drivers, input resolution)',
            report.seconds(result['between_components_seconds']),
            report.percent(result['between_components_seconds'] / total),
            '',
            '',
        ],
        [
            'outside the DAG (process start, imports, compile, summary)',
            report.seconds(result['outside_dag_seconds']),
            report.percent(result['outside_dag_seconds'] / total),
            '',
            '',
        ],
        [
            '**whole run**',
            f'**{report.seconds(total)}**',
            '100%',
            f'**{report.gigabytes(result["peak_rss_bytes"])}**',
            '',
        ],
    ]
    return (
        report.markdown_table(['component', 'wall time', 'share', 'peak RSS while running', 'RSS growth'], rows)
        + f'\n\n{result["size"]:,} labelled reviews, median of {result["repeats"]} run(s). '
        f'Largest single process (kernel peak): {report.gigabytes(result["peak_process_rss_bytes"])}.'
    )
