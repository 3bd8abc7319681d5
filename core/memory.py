"""Handing freed memory back to the system.

LocalDagRunner runs every component in one process. glibc's malloc keeps
the heap pages that a component's Beam pipeline or feature matrices freed,
to reuse them, so the next component would start with the peak of the ones
before it still counted against the machine. malloc_trim(0) returns the
free pages of every arena. Where the C library is not glibc this is a no-op.
Reference cycles are collected first: scipy's L-BFGS leaves its state (a few
arrays the size of the model's weights) in cycles, which Python's collector
would free only at its next full pass.
"""

import ctypes
import ctypes.util
import functools
import gc
import logging
from typing import Optional

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def _malloc_trim() -> Optional[ctypes._CFuncPtr]:
    name = ctypes.util.find_library('c')
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None


def return_freed_memory(reason: str) -> bool:
    """Collects reference cycles and returns the allocator's free pages to the
    system; True if it could. REASON (what was freed) goes to the debug log."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    log.debug('Freed memory returned to the system: %s', reason)
    return True
