"""The default run, measured: `imdb-tfx run` with no options but --data, in a
fresh home, as `make run` does. Writes benchmarks/default_run.json (what the
gate judged on the eval split, the times, the pushed model's size, the
console's line count), the console as the user saw it
(benchmarks/default_run_console.txt), and refreshes README.md's generated
blocks.

    python -m benchmarks.default_run [--data SOURCE] [--work-dir DIR]"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import readme_blocks
from imdb_tfx import outcome, run_info
from imdb_tfx.core import names
from imdb_tfx.core.home import Home
from imdb_tfx.pipeline import configs, recipes

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'default_run.json')
CONSOLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'default_run_console.txt')
IMDB_TFX = os.path.join(os.path.dirname(sys.executable), 'imdb-tfx')


def _folder_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def git_commit() -> str:
    found = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else 'unknown'


def measure(data: str, home: Home) -> dict:
    """Runs the default pipeline into HOME and reads back what it did."""
    command = [IMDB_TFX, 'run', '--home', home.root, *(['--data', data] if data else [])]
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.time() - started
    with open(CONSOLE, 'w', encoding='utf-8') as f:
        f.write(f'$ imdb-tfx run{" --data " + data if data else ""}\n{result.stdout}{result.stderr}')
    if result.returncode != 0:
        raise SystemExit(f'{" ".join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}')
    run = run_info.load_run(run_info.open_store(home.metadata_path), configs.PIPELINE_NAME)
    judged = outcome.of_run(run)
    low, high = judged.interval('binary_accuracy')
    return {
        'command': ' '.join(['imdb-tfx', 'run', *(['--data', data] if data else [])]),
        'recipe': recipes.DEFAULT_RECIPE,
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'commit': git_commit(),
        'cores': os.cpu_count(),
        'eval_reviews': judged.example_count,
        'accuracy': judged.metrics['binary_accuracy'],
        'accuracy_interval': [low, high],
        'auc': judged.metrics.get('auc'),
        'expected_calibration_error': judged.metrics.get(names.EXPECTED_CALIBRATION_ERROR),
        'pushed': bool(judged.pushed_path),
        'model_bytes': _folder_bytes(judged.pushed_path) if judged.pushed_path else None,
        'seconds': seconds,
        'trainer_seconds': run.nodes[names.TRAINER].seconds,
        'console_lines': len(result.stdout.splitlines()) + len(result.stderr.splitlines()),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog='python -m benchmarks.default_run', description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', help='Any prepare-data SOURCE. Default: as `imdb-tfx run` finds it.')
    parser.add_argument('--work-dir', help='Where the fresh home goes. Default: a temporary folder.')
    args = parser.parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix='imdb-default-run-')
    results = measure(args.data, Home.at(os.path.join(work, 'home')))
    with open(RESULTS, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=2)
        f.write('\n')
    readme_blocks.main([])
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
