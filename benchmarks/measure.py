"""Measuring a command: wall time and memory of its whole process tree, and the
machine the numbers come from.

Memory is sampled, not traced: every INTERVAL seconds the RSS of the process
and all its descendants (Beam workers, the canary's probe) is summed. Shared
pages count once per process, so the sum is an upper bound; a spike shorter
than the interval can be missed. The kernel's own peak of the largest single
process (wait4's ru_maxrss) is kept beside it as an exact lower bound."""

import dataclasses
import datetime
import os
import platform
import signal
import subprocess
import time
from importlib import metadata
from typing import Callable, List, Optional, Sequence, Tuple

import psutil

INTERVAL = 0.2
# Every process the benchmark starts: Keras 2 (hub.KerasLayer, TFMA), quiet TF,
# and Python's stacks in the log when native code crashes.
ENV = {'TF_CPP_MIN_LOG_LEVEL': '2', 'PYTHONFAULTHANDLER': '1'}
GB = 1e9


@dataclasses.dataclass
class Measured:
    command: List[str]
    returncode: Optional[int]  # None: killed (timeout or stop)
    seconds: float  # wall time
    peak_rss: int  # bytes, sampled sum over the process tree
    peak_process_rss: int  # bytes, the kernel's peak of the largest single process
    samples: List[Tuple[float, int]]  # (epoch seconds, tree RSS bytes)
    log: str  # the command's stdout and stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def peak_between(self, start: float, end: float) -> Optional[int]:
        """Peak tree RSS sampled in [start, end]; a window shorter than the
        interval gets the sample nearest to it."""
        inside = [rss for t, rss in self.samples if start <= t <= end]
        if inside:
            return max(inside)
        if not self.samples:
            return None
        return min(self.samples, key=lambda s: min(abs(s[0] - start), abs(s[0] - end)))[1]

    def log_tail(self, chars: int = 3000) -> str:
        with open(self.log, encoding='utf-8', errors='replace') as f:
            return f.read()[-chars:]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        family = [process] + process.children(recursive=True)
    except psutil.Error:
        return 0
    for p in family:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # ended between listing and reading
            pass
    return total


def run(
    command: Sequence[str], log: str, timeout: Optional[float] = None, stop: Optional[Callable[[], bool]] = None
) -> Measured:
    """Runs `command` (output to the file `log`) in its own session, so that
    at the timeout, or when stop() says so, the whole group, Beam workers
    included, can be killed."""
    command = [str(c) for c in command]
    env = dict(os.environ, **ENV)
    samples: List[Tuple[float, int]] = []
    with open(log, 'w', encoding='utf-8') as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        watched = psutil.Process(process.pid)
        returncode = None
        while True:
            # wait4, not Popen.wait: it also returns the child's resource usage.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                returncode = os.waitstatus_to_exitcode(status)
                break
            samples.append((time.time(), _tree_rss(watched)))
            if (timeout is not None and time.perf_counter() - started > timeout) or (stop is not None and stop()):
                os.killpg(process.pid, signal.SIGKILL)
                _, _, usage = os.wait4(process.pid, 0)
                break
            time.sleep(INTERVAL)
        seconds = time.perf_counter() - started
        process.returncode = returncode if returncode is not None else -signal.SIGKILL
    return Measured(
        command=command,
        returncode=returncode,
        seconds=seconds,
        peak_rss=max((rss for _, rss in samples), default=0),
        peak_process_rss=usage.ru_maxrss * 1024,
        samples=samples,
        log=log,
    )


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def machine() -> dict:
    """What the numbers depend on: cores, memory, CPU, versions, and the load
    the machine already had when the benchmark started."""
    versions = {}
    for package in (
        'tensorflow',
        'tfx',
        'apache-beam',
        'tensorflow-data-validation',
        'tensorflow-model-analysis',
        'tensorflow-hub',
        'tf-keras',
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        'cores': os.cpu_count(),
        'memory_bytes': psutil.virtual_memory().total,
        'cpu_model': _cpu_model(),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'load_average_at_start': [round(x, 2) for x in os.getloadavg()],
        'versions': versions,
    }
