"""return_freed_memory hands the pages of freed small allocations back."""

import subprocess
import sys
import textwrap

import pytest

from imdb_tfx.core import memory


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc only')
def test_freed_heap_pages_go_back_to_the_system():
    # A fresh interpreter: 400 MB in 64 KB pieces (below malloc's mmap
    # threshold, so they come from the heap), all freed but the last, which
    # keeps the heap's top in use, so free() alone cannot shrink it.
    script = textwrap.dedent(
        """
        import psutil
        from imdb_tfx.core import memory
        pieces = [bytearray(64 * 1024) for _ in range(6400)]
        last = pieces.pop()
        del pieces
        before = psutil.Process().memory_info().rss
        assert memory.return_freed_memory('the test')
        after = psutil.Process().memory_info().rss
        print((before - after) / 1e6)
        """
    )
    run = subprocess.run([sys.executable, '-c', script], check=True, capture_output=True, text=True)
    returned_mb = float(run.stdout)
    assert returned_mb > 300


def test_it_says_so_when_the_c_library_cannot(monkeypatch):
    monkeypatch.setattr(memory, '_malloc_trim', lambda: None)
    assert memory.return_freed_memory('the test') is False


def test_memory_held_in_reference_cycles_is_freed_too():
    script = textwrap.dedent(
        """
        import gc, numpy as np, psutil
        from imdb_tfx.core import memory
        gc.disable()  # as between two of the collector's full passes
        cycle = {'data': np.ones(50_000_000)}
        cycle['self'] = cycle
        del cycle
        before = psutil.Process().memory_info().rss
        memory.return_freed_memory('the test')
        print((before - psutil.Process().memory_info().rss) / 1e6)
        """
    )
    run = subprocess.run([sys.executable, '-c', script], check=True, capture_output=True, text=True)
    assert float(run.stdout) > 350
