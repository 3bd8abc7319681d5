"""Part 5: StatisticsGen and Evaluator under Beam's DirectRunner modes, so
that the local default (pipeline.configs.LOCAL_BEAM_ARGS) is chosen by
measurement.

Each mode runs in a process of its own: for each component, a small pipeline
of Importers (the big run's examples, schema and trained model) and the
component, configured as in the real pipeline, run `repeats` times with
LocalDagRunner and timed by ML Metadata. A run that outlives its budget is
killed with its Beam workers and recorded as timed out (TFDV under
multi_processing can hang: tensorflow/data-validation#133); the components
after it get a fresh process.

    python -m benchmarks.beam_modes --mode in_memory --components StatisticsGen,Evaluator \
        --examples URI --schema URI --model URI --root DIR --repeats N"""

import argparse
import os
import re
import signal
import statistics
import sys
import time
from typing import Dict, List, Optional

from benchmarks import measure, report
from imdb_tfx.core import names

MODES: Dict[str, List[str]] = {
    'in_memory': ['--direct_running_mode=in_memory', '--direct_num_workers=1'],
    'multi_threading': ['--direct_running_mode=multi_threading', '--direct_num_workers=2'],
    'multi_processing': ['--direct_running_mode=multi_processing', '--direct_num_workers=2'],
}
COMPONENTS = (names.STATISTICS_GEN, names.EVALUATOR)
PROGRESS_FILE = 'progress.tsv'  # the child's "component <tab> run started at" lines
# Budgets: process start and imports; one in_memory run; one run of another
# mode, as a multiple of the in_memory run, and never less than MIN_RUN_BUDGET.
STARTUP_BUDGET = 180
IN_MEMORY_BUDGET = 600
BUDGET_FACTOR = 10
MIN_RUN_BUDGET = 60


def _pipeline_name(component: str) -> str:
    return f'beam-mode-{component.lower()}'


def _pipeline(component: str, mode: str, examples: str, schema: str, model: str, root: str):
    from tfx import v1 as tfx
    from tfx.types import artifact_utils, standard_artifacts

    from imdb_tfx.components.evaluator_vs_serving.component import EvaluatorVsServing
    from imdb_tfx.pipeline import configs
    from imdb_tfx.pipeline.config import GateConfig
    from imdb_tfx.pipeline.eval_config import eval_config

    imported_examples = tfx.dsl.Importer(
        source_uri=examples,
        artifact_type=standard_artifacts.Examples,
        properties={'split_names': artifact_utils.encode_split_names(['train', 'eval'])},
    ).with_id('ImportExamples')
    if component == names.STATISTICS_GEN:
        imported = tfx.dsl.Importer(source_uri=schema, artifact_type=standard_artifacts.Schema).with_id('ImportSchema')
        node = tfx.components.StatisticsGen(
            examples=imported_examples.outputs['result'], schema=imported.outputs['result']
        )
    else:  # the pipeline's Evaluator on a first push: no model serving, no baseline
        imported = tfx.dsl.Importer(source_uri=model, artifact_type=standard_artifacts.Model).with_id('ImportModel')
        node = EvaluatorVsServing(
            examples=imported_examples.outputs['result'],
            model=imported.outputs['result'],
            eval_config=eval_config(GateConfig()),
        ).with_id(names.EVALUATOR)
    return tfx.dsl.Pipeline(
        pipeline_name=_pipeline_name(component),
        pipeline_root=os.path.join(root, 'tfx'),
        components=[imported_examples, imported, node],
        enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(root, 'metadata.sqlite')
        ),
        beam_pipeline_args=MODES[mode] + configs.LOCAL_DEPENDENCY_ARGS,
    )


def _finished_runs(root: str, component: str) -> list:
    """The component's completed MLMD executions under root, oldest first."""
    from imdb_tfx import run_info

    metadata = os.path.join(root, 'metadata.sqlite')
    if not os.path.exists(metadata):
        return []
    store, name = run_info.open_store(metadata), _pipeline_name(component)
    nodes = [
        run_info.load_run(store, name, run_id).nodes.get(component)
        for run_id in reversed(run_info.run_ids(store, name))
    ]
    return [n for n in nodes if n is not None and n.state == 'COMPLETE']


def _over_budget(progress: str, budgets: Dict[str, float], started: float) -> bool:
    """Whether the run in progress (the progress file's last line) has taken
    longer than its component's budget."""
    try:
        with open(progress, encoding='utf-8') as f:
            lines = f.read().split('\n')[:-1]  # complete lines only
    except FileNotFoundError:
        lines = []
    if not lines:
        return time.time() - started > STARTUP_BUDGET
    component, run_started = lines[-1].split('\t')
    return time.time() - float(run_started) > budgets[component]


def run_mode(
    mode: str, examples: str, schema: str, model: str, root: str, repeats: int, budgets: Dict[str, float]
) -> List[dict]:
    """One row per component: its MLMD times and the process tree's peak RSS
    while it ran."""
    os.makedirs(root, exist_ok=True)
    rows: Dict[str, dict] = {}
    pending = list(COMPONENTS)
    attempt = 0
    while pending:
        attempt += 1
        progress = os.path.join(root, f'{attempt}-{PROGRESS_FILE}')
        started = time.time()
        measured = measure.run(
            [
                sys.executable,
                '-m',
                'benchmarks.beam_modes',
                '--mode',
                mode,
                '--components',
                ','.join(pending),
                '--examples',
                examples,
                '--schema',
                schema,
                '--model',
                model,
                '--root',
                root,
                '--repeats',
                repeats,
                '--progress',
                progress,
            ],
            log=os.path.join(root, f'{attempt}.log'),
            stop=lambda: _over_budget(progress, budgets, started),
        )
        unfinished = None
        for component in pending:
            nodes = _finished_runs(root, component)
            if len(nodes) < repeats and unfinished is None:
                unfinished = component
            status = 'ok' if len(nodes) >= repeats else 'timed out' if measured.returncode is None else 'failed'
            if component == unfinished or len(nodes) >= repeats:
                rows[component] = _row(component, mode, status, nodes, measured, budgets[component])
        # What a hang or failure left unmeasured gets a fresh process.
        pending = pending[pending.index(unfinished) + 1 :] if unfinished else []
    return [rows[c] for c in COMPONENTS]


def _row(component: str, mode: str, status: str, nodes: list, measured, budget: float) -> dict:
    return {
        'component': component,
        'mode': mode,
        'args': MODES[mode],
        'status': status,
        'runs_seconds': [n.seconds for n in nodes],
        'median_seconds': statistics.median(n.seconds for n in nodes) if nodes else None,
        'peak_rss_bytes': max(
            (measured.peak_between(n.started, n.started + n.seconds) or 0 for n in nodes), default=None
        ),
        'log': measured.log,
        'error': None if status == 'ok' else _error_of(measured.log, status, budget, measured.returncode),
    }


_CRASH_FRAMES = 3
_EXCEPTION_LINE = re.compile(r'^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*')


def _error_of(log: str, status: str, budget: float, returncode: Optional[int]) -> str:
    """Why a mode did not finish: the budget it outran, or how its process
    ended and the last error in its log. A crash in native code (a signal)
    is named by the Python frame that made it, from faulthandler's dump
    (measure.ENV turns it on)."""
    if status == 'timed out':
        return f'no run finished within its budget of {budget:.0f} s'
    ended = f'killed by {signal.Signals(-returncode).name}' if returncode and returncode < 0 else f'exit {returncode}'
    try:
        with open(log, encoding='utf-8', errors='replace') as f:
            lines = [line.strip() for line in f]
    except OSError:
        return f'{ended}: no log at {log}'
    return f'{ended}: {_crash_frame(lines) or _last_error_line(lines)}'


def _crash_frame(lines: List[str]) -> Optional[str]:
    """faulthandler's 'Fatal Python error' and the innermost frames of the
    thread that crashed, when the log has them."""
    fatal = [i for i, line in enumerate(lines) if line.startswith('Fatal Python error:')]
    if not fatal:
        return None
    current = [i for i, line in enumerate(lines) if i > fatal[-1] and line.startswith('Current thread')]
    frames = [line for line in lines[current[0] + 1 :] if line.startswith('File ')] if current else []
    return lines[fatal[-1]] + (' in ' + ' < '.join(frames[:_CRASH_FRAMES]) if frames else '')


def _last_error_line(lines: List[str]) -> str:
    found = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return (found or [line for line in lines if line] or ['the process exited without output'])[-1][:300]


def collect(examples: str, schema: str, model: str, work_dir: str, repeats: int, current_default: List[str]) -> dict:
    rows: List[dict] = []
    budgets = {c: IN_MEMORY_BUDGET for c in COMPONENTS}
    for mode in MODES:
        measured = run_mode(mode, examples, schema, model, os.path.join(work_dir, mode), repeats, budgets)
        for row in measured:
            print(
                f'  {row["component"]:<13} {mode:<17} {row["status"]:<9} {report.seconds(row["median_seconds"])}',
                flush=True,
            )
        if mode == 'in_memory':
            budgets = {
                r['component']: max(MIN_RUN_BUDGET, BUDGET_FACTOR * (r['median_seconds'] or 0)) for r in measured
            }
        rows += measured
    rows.sort(key=lambda r: (COMPONENTS.index(r['component']), list(MODES).index(r['mode'])))
    fastest: Dict[str, Optional[str]] = {}
    for component in COMPONENTS:
        done = [r for r in rows if r['component'] == component and r['status'] == 'ok']
        fastest[component] = min(done, key=lambda r: r['median_seconds'])['mode'] if done else None
    default = next((m for m, args in MODES.items() if args == list(current_default)), None)
    return {'rows': rows, 'fastest': fastest, 'current_default': default, 'repeats': repeats}


def table(result: dict) -> str:
    default = ' (current default)'
    rows = [
        [
            r['component'],
            r['mode'] + (default if r['mode'] == result['current_default'] else ''),
            r['status'],
            report.seconds(r['median_seconds']),
            ', '.join(report.seconds(s) for s in r['runs_seconds']),
            report.gigabytes(r['peak_rss_bytes']),
        ]
        for r in result['rows']
    ]
    fastest = '; '.join(f'{c}: {m or "none finished"}' for c, m in result['fastest'].items())
    errors = ''.join(
        f'\n- {r["component"]}, {r["mode"]}: {r["status"]}: `{r["error"]}`'
        for r in result['rows']
        if r['status'] != 'ok'
    )
    return (
        report.markdown_table(
            ['component', 'mode', 'status', 'median wall time', 'runs', 'peak RSS (with workers)'], rows
        )
        + f'\n\nFastest: {fastest}. multi_threading and multi_processing use 2 workers; '
        f'{result["repeats"]} run(s) per component and mode, each mode in a process of its own.'
        + (f'\n\nWhy a mode did not finish (the last error in its log):{errors}' if errors else '')
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description='Runs components under one Beam mode.')
    parser.add_argument('--mode', choices=list(MODES), required=True)
    parser.add_argument('--components', required=True, help='comma-separated, run in this order')
    for name in ('--examples', '--schema', '--model', '--root', '--progress'):
        parser.add_argument(name, required=True)
    parser.add_argument('--repeats', type=int, default=1)
    args = parser.parse_args(argv)
    # TFX's Beam executors parse sys.argv as absl flags (b/174174381): hide ours.
    sys.argv = sys.argv[:1]
    from tfx import v1 as tfx

    for component in args.components.split(','):
        pipeline = _pipeline(component, args.mode, args.examples, args.schema, args.model, args.root)
        for _ in range(args.repeats):
            with open(args.progress, 'a', encoding='utf-8') as f:
                f.write(f'{component}\t{time.time()}\n')
            tfx.orchestration.LocalDagRunner().run(pipeline)


if __name__ == '__main__':
    main()
