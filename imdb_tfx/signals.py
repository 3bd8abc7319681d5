"""How `imdb-tfx run` stops on SIGINT (Ctrl-C) or SIGTERM: at once, and
saying where.

The handler raises Stopped in the main thread, where the component runs.
It is an Exception, not a BaseException: TFX's launcher then records the
running component as FAILED and removes its outputs. But a library may
swallow any exception raised at the wrong moment (AutoGraph does, while it
converts a function), so a watchdog ends the process GRACE_SECONDS after the
signal in any case: it names the component still running, kills the
process's children (the canary's probe) and exits 128 + the signal. A
component ended that way stays RUNNING in ML Metadata, like a killed one;
TFX's cache never reuses either. A second signal ends the process at once."""

import os
import signal
import sys
import threading
from typing import Callable, Optional

import psutil

from imdb_tfx.core import console

GRACE_SECONDS = 5.0


class Stopped(Exception):
    """Raised in the main thread by SIGINT or SIGTERM."""


class SignalStop:
    """Installs the handlers for its `with` block. `where()` says, at any
    moment, which run and component the process is in."""

    def __init__(self, where: Callable[[], str]):
        self._where = where
        self.signal: Optional[signal.Signals] = None
        self._reported = threading.Lock()

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + self.signal

    def report(self) -> None:
        """Says where the run stopped, once (the main thread or the watchdog)."""
        if self._reported.acquire(blocking=False):
            console.echo(
                f'Stopped by {self.signal.name} at {self._where()}: what had completed is recorded; '
                '`imdb-tfx run` again resumes, reusing it from the cache.',
                err=True,
            )

    def __enter__(self) -> 'SignalStop':
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        return isinstance(error, Stopped)  # swallowed: the caller exits with exit_code

    def _handle(self, signum, frame):
        if self.signal is not None:
            self._end()
        self.signal = signal.Signals(signum)
        threading.Thread(target=self._end_after_grace, daemon=True).start()
        raise Stopped(self.signal.name)

    def _end_after_grace(self) -> None:
        threading.Event().wait(GRACE_SECONDS)
        self._end()

    def _end(self) -> None:
        self.report()
        for child in psutil.Process().children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass
        sys.stdout.flush()
        os._exit(self.exit_code)
