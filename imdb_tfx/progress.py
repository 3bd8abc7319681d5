"""A local run's progress on the console: a line per component as it ends
(its name, how it ended, its seconds), and the Trainer's phases with their
epochs and the time left, read from the log records TFX's LocalDagRunner
and the Trainer module write (modules/progress.py)."""

import logging
import time
from typing import Optional

from imdb_tfx.core.console import Console
from imdb_tfx.modules import progress as trainer_progress

# LocalDagRunner's and its launcher's records (their format strings).
_RUNNING = 'Component %s is running.'
_FINISHED = 'Component %s is finished.'
_SKIPPED = 'Skipping component %s.'
_CACHED = 'A cached execution %d is used.'
# Plain lines (not a terminal): at most one progress line a phase this often.
PLAIN_LINE_SECONDS = 60.0


def duration(seconds: float) -> str:
    """3.2 s, 48 s, 4 min 05 s."""
    if seconds < 10:
        return f'{seconds:.1f} s'
    if seconds < 60:
        return f'{seconds:.0f} s'
    return f'{int(seconds // 60)} min {int(seconds % 60):02d} s'


class RunProgress(logging.Handler):
    """Attach to the root logger for a run's duration. `running` names the
    component in progress (None between components)."""

    def __init__(self, console: Console):
        super().__init__(logging.INFO)
        self.console = console
        self.running: Optional[str] = None
        self._started = 0.0
        self._cached = False
        self._plain_line_at = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        phase = getattr(record, trainer_progress.RECORD_ATTRIBUTE, None)
        if phase is not None:
            self._trainer(phase)
        elif record.msg == _RUNNING:
            self.running, self._started, self._cached = record.args[0], time.time(), False
        elif record.msg == _CACHED:
            self._cached = True
        elif record.msg == _FINISHED:
            self._line(record.args[0], 'cached' if self._cached else 'done', time.time() - self._started)
            self.running = None
        elif record.msg == _SKIPPED:
            self.console.echo(f'  {record.args[0]:<22} skipped')

    def failed(self) -> None:
        """The component in progress raised."""
        if self.running:
            self._line(self.running, 'FAILED', time.time() - self._started)
            self.running = None

    def _line(self, node: str, state: str, seconds: float) -> None:
        self.console.echo(f'  {node:<22} {state:<7} {duration(seconds):>10}')

    def _trainer(self, phase: 'trainer_progress.Phase') -> None:
        name = f'  Trainer {phase.index}/{phase.count} {phase.name}'
        if phase.finished:
            best = f', best epoch {phase.best_epoch}' if phase.best_epoch else ''
            self.console.echo(f'{name}: {phase.epoch} epochs in {duration(phase.seconds)}{best}')
            return
        left = f', at most {duration(phase.seconds_left)} left' if phase.epoch else ''
        line = f'{name}: epoch {phase.epoch}/{phase.epochs}{left}' if phase.epoch else f'{name}: started'
        if self.console.is_terminal:
            done = int(20 * phase.epoch / phase.epochs)
            self.console.status(f'{name} [{"#" * done}{"." * (20 - done)}] epoch {phase.epoch}/{phase.epochs}{left}')
        elif phase.epoch < phase.epochs and time.time() - self._plain_line_at >= PLAIN_LINE_SECONDS:
            self._plain_line_at = time.time()
            self.console.echo(line)
