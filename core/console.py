"""What a long command (`run`, `simulate`, `kfp-local`, `prepare-data`)
shows while it works: the project's own lines on the console, everything
the libraries say (TensorFlow's C++ log, Python warnings, absl, Beam,
child processes) in a log file, and on the console too with --verbose.

The libraries write to file descriptors 1 and 2 directly, so those are
pointed at the log for the command's duration; the console keeps a
duplicate of each, which echo() writes to."""

import contextlib
import io
import logging
import os
import sys
import threading
import time
from typing import Iterator, List, Optional, TextIO

import click
from absl import logging as absl_logging

# Project loggers whose INFO lines a user wants on the console; every other
# project logger shows its warnings and errors only (its INFO goes to the log).
CONSOLE_INFO_LOGGERS = (
    'imdb_tfx.inputs',
    'imdb_tfx.prepare_data',
    'imdb_tfx.spans',
    'imdb_tfx.components.embedding_builder.word_vectors',
)
LOG_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'


class Console:
    """The terminal (or file) the command started with."""

    def __init__(self, out: TextIO, err: TextIO):
        self.out, self.err = out, err
        self._status = False

    @property
    def is_terminal(self) -> bool:
        return self.out.isatty()

    def echo(self, message: str = '', err: bool = False) -> None:
        self._clear_status()
        stream = self.err if err else self.out
        stream.write(f'{message}\n')
        stream.flush()

    def status(self, message: str) -> None:
        """A line that the next one replaces (a terminal only)."""
        if self.is_terminal:
            self.out.write(f'\r\x1b[2K{message}')
            self.out.flush()
            self._status = True

    def _clear_status(self) -> None:
        if self._status:
            self.out.write('\r\x1b[2K')
            self._status = False


_console: Optional[Console] = None


def echo(message: str = '', err: bool = False) -> None:
    """A line of the project's own: on the console also while the libraries'
    output goes to the log."""
    if _console is None:
        click.echo(message, err=err)
    else:
        _console.echo(message, err=err)


def current() -> Optional[Console]:
    """The console while libraries_to_log is in effect, else None."""
    return _console


class _ProjectLines(logging.Handler):
    """The project's log records that belong on the console, as bare lines."""

    def __init__(self, console: Console):
        super().__init__(logging.INFO)
        self.console = console

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith(CONSOLE_INFO_LOGGERS)

    def emit(self, record: logging.LogRecord) -> None:
        prefix = '' if record.levelno < logging.WARNING else f'{record.levelname.capitalize()}: '
        self.console.echo(prefix + record.getMessage(), err=record.levelno >= logging.WARNING)


def _copy(source: int, targets: List[int]) -> None:
    """--verbose: what the libraries write goes to the log and the console."""
    with io.open(source, 'rb', buffering=0) as pipe:
        for chunk in iter(lambda: pipe.read(65536), b''):
            for target in targets:
                os.write(target, chunk)


# The log file of the newest libraries_to_log block, for error messages.
last_log: Optional[str] = None
# The command line's --verbose: the libraries' output on the console too.
verbose = False


def _has_file_descriptors() -> bool:
    try:
        sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
    return True


@contextlib.contextmanager
def libraries_to_log(log_path: str) -> Iterator[Optional[Console]]:
    """Within the block, file descriptors 1 and 2 (and so every library and
    child process) write to log_path, also to the console with `verbose`; echo()
    and the project's INFO lines (CONSOLE_INFO_LOGGERS) and warnings reach the
    console. Every log record at INFO and above is in the log. A block inside
    another writes its own log and keeps the outer block's console. Streams
    without file descriptors (a test runner's) are left as they are."""
    global _console, last_log
    if not _has_file_descriptors():
        yield None
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = os.dup(1), os.dup(2)
    outer = _console
    console = outer or Console(os.fdopen(os.dup(1), 'w', buffering=1), os.fdopen(os.dup(2), 'w', buffering=1))
    tee = _point_descriptors_at(log_fd, console, verbose)
    root, project = logging.getLogger(), logging.getLogger('imdb_tfx')
    root_level, absl_verbosity, handler = root.level, absl_logging.get_verbosity(), _ProjectLines(console)
    root.setLevel(logging.INFO)
    # absl's own level too: TensorFlow resets it to absl's verbosity after each
    # SavedModel it writes, which would drop TFX's INFO records from then on.
    absl_logging.set_verbosity(absl_logging.INFO)
    if outer is None:
        project.addHandler(handler)
    _console, last_log = console, log_path
    try:
        yield console
    finally:
        _console = outer
        project.removeHandler(handler)
        root.setLevel(root_level)
        absl_logging.set_verbosity(absl_verbosity)
        sys.stdout.flush()
        sys.stderr.flush()
        for descriptor, original in zip((1, 2), saved):
            os.dup2(original, descriptor)
            os.close(original)
        if tee is not None:
            tee.join(timeout=5)
        if outer is None:
            console.out.close()
            console.err.close()
        os.close(log_fd)


def _point_descriptors_at(log_fd: int, console: Console, verbose: bool) -> Optional[threading.Thread]:
    """Points 1 and 2 at the log, or with verbose at a pipe that a thread
    copies to the log and the console's error stream."""
    if not verbose:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        return None
    read_fd, write_fd = os.pipe()
    tee = threading.Thread(target=_copy, args=(read_fd, [log_fd, console.err.fileno()]), daemon=True)
    tee.start()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    return tee


def log_file_name(started: float, what: str) -> str:
    """A log's file name: when it started, and what."""
    return time.strftime('%Y%m%d-%H%M%S', time.localtime(started)) + f'-{what}.log'
