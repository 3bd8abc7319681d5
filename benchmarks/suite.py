"""The benchmark suite: runs the selected parts and writes results.md and results.json.

Every size gets its runs back to back (plain script and pipeline alternate
which goes first across repeats); parts 1, 2, 4 and 5 use the largest size,
whose pipeline home (examples, schema, trained and pushed model) stays until
the end."""

import dataclasses
import os
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks import (
    beam_modes,
    component_costs,
    large_data,
    linear_memory,
    measure,
    report,
    runs,
    scaling,
    serving,
    text_module,
    vs_plain,
)
from imdb_tfx.core import names
from imdb_tfx.pipeline import configs

PARTS = ('plain', 'components', 'scaling', 'serving', 'beam', 'text_module')
# Parts that need no pipeline run.
RUNLESS_PARTS = {'text_module'}
FULL_SIZES = (2500, 10_000, 25_000)


@dataclasses.dataclass(frozen=True)
class Config:
    data: str  # prepared TFRecords
    hub: str  # the embedding module both sides use
    glove_dir: str  # where the GloVe wheel is (part 6 builds the default recipe's module from it)
    output_dir: str
    parts: Sequence[str] = PARTS
    sizes: Sequence[int] = FULL_SIZES
    repeats: int = 1  # of each plain/pipeline run
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 1e-3
    hidden_units: int = 16
    split_buckets: Sequence[int] = configs.SPLIT_BUCKETS
    beam_repeats: int = 3
    serving_seconds: float = 5.0  # minimum timed seconds per serving measurement
    serving_calls: int = 20  # and minimum calls
    work_dir: Optional[str] = None  # default: a temporary folder, removed at the end
    keep_work: bool = False
    command: str = 'python -m benchmarks'


def _log(message: str) -> None:
    print(f'{time.strftime("%H:%M:%S")} {message}', flush=True)


def plan_sizes(config: Config) -> List[int]:
    """The sizes to run, capped by the data; only the largest without scaling."""
    available = scaling.labelled_count(config.data)
    sizes = sorted({min(n, available) for n in config.sizes})
    return sizes if 'scaling' in config.parts else sizes[-1:]


def main(config: Config) -> str:
    started = time.perf_counter()
    results: dict = {
        'machine': measure.machine(),
        'config': {
            k: v for k, v in dataclasses.asdict(config).items() if k not in ('work_dir', 'keep_work', 'output_dir')
        },
    }
    work_dir = config.work_dir or tempfile.mkdtemp(prefix='imdb-bench-')
    try:
        sections = _run_parts(config, work_dir, results)
    except BaseException:
        _log(f"Failed: the work folder, with every run's log, stays at {work_dir}")
        raise
    results['targets'] = report.targets(results)
    results['total_seconds'] = time.perf_counter() - started
    sections += large_data.section(linear_memory.summary())
    md_path, json_path = report.write(results, sections, config.output_dir)
    _log(f'Wrote {md_path} and {json_path}')
    if config.keep_work:
        _log(f'Kept {work_dir}')
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return md_path


def _measure_runs(config: Config, setup: runs.Setup, sizes: List[int]):
    """{size: [plain results]}, {size: [pipeline results]}, back to back per size."""
    with_plain = bool({'plain', 'scaling'} & set(config.parts))
    plains: Dict[int, List[dict]] = {}
    pipelines: Dict[int, List[runs.PipelineResult]] = {}
    for size in sizes:
        data = (
            config.data
            if size == scaling.labelled_count(config.data)
            else scaling.subset(config.data, size, os.path.join(setup.work_dir, f'data-{size}'))
        )
        for repeat in range(config.repeats):
            name = f'{size}-{repeat}'
            order = ['plain', 'pipeline'] if repeat % 2 == 0 else ['pipeline', 'plain']
            for kind in order:
                if kind == 'plain' and with_plain:
                    _log(f'plain script, {size:,} reviews, run {repeat + 1}')
                    plains.setdefault(size, []).append(runs.plain(setup, data, name))
                    _log(f'  {report.seconds(plains[size][-1]["seconds"])}')
                elif kind == 'pipeline':
                    _log(f'imdb-tfx run, {size:,} reviews, run {repeat + 1}')
                    pipelines.setdefault(size, []).append(runs.pipeline(setup, data, name))
                    _log(f'  {report.seconds(pipelines[size][-1].summary["seconds"])}')
        if size != sizes[-1]:  # only the largest run's home serves the later parts
            for result in pipelines[size]:
                shutil.rmtree(result.home, ignore_errors=True)
    return plains, pipelines


def _run_parts(config: Config, work_dir: str, results: dict) -> List[Tuple[str, str]]:
    """Fills `results` part by part; returns the (title, table) sections."""
    setup = runs.Setup(
        hub=config.hub,
        work_dir=work_dir,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        hidden_units=config.hidden_units,
        split_buckets=tuple(config.split_buckets),
    )
    sections = []
    if not set(config.parts) - RUNLESS_PARTS:
        _log(f'Parts {", ".join(config.parts)}: no pipeline run')
        return _run_runless_parts(config, results, sections)
    sizes = plan_sizes(config)
    _log(f'Working in {work_dir}; sizes {sizes}, parts {", ".join(config.parts)}')
    plains, pipelines = _measure_runs(config, setup, sizes)

    largest = sizes[-1]
    big = pipelines[largest][0]
    if 'plain' in config.parts:
        results['plain_vs_pipeline'] = vs_plain.collect(largest, plains[largest], pipelines[largest])
        sections.append(('1. Pipeline vs plain script', vs_plain.table(results['plain_vs_pipeline'])))
    if 'components' in config.parts:
        results['components'] = component_costs.collect(largest, pipelines[largest])
        sections.append(('2. Where the time goes', component_costs.table(results['components'])))
    if 'scaling' in config.parts:
        results['scaling'] = scaling.collect(plains, pipelines)
        sections.append(('3. Scaling with data', scaling.table(results['scaling'])))
    examples = big.output_uri(names.EXAMPLE_GEN, 'examples')
    if 'serving' in config.parts:
        _log('serving the pushed model')
        # Not pushed (the canary failed): the Trainer's export is the same model.
        model_dir = big.summary['pushed'] or os.path.join(big.output_uri(names.TRAINER, 'model'), 'Format-Serving')
        results['serving'] = serving.collect(
            model_dir, serving.eval_texts(examples), config.hub, config.serving_seconds, config.serving_calls
        )
        sections.append(('4. Serving', serving.table(results['serving'])))
    if 'beam' in config.parts:
        _log('Beam modes')
        results['beam_modes'] = beam_modes.collect(
            examples,
            big.output_uri(names.IMPORT_SCHEMA_GEN, 'schema'),
            big.output_uri(names.TRAINER, 'model'),
            os.path.join(work_dir, 'beam'),
            config.beam_repeats,
            configs.LOCAL_BEAM_ARGS,
        )
        sections.append(('5. Beam modes', beam_modes.table(results['beam_modes'])))
    return _run_runless_parts(config, results, sections)


def _run_runless_parts(config: Config, results: dict, sections: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    if 'text_module' in config.parts:
        _log('the text module against its reference')
        results['text_module'] = text_module.collect(
            config.data, config.glove_dir, config.serving_seconds, config.serving_calls
        )
        sections.append(('6. Text module: today against the reference', text_module.table(results['text_module'])))
    return sections
