"""One process holds a home at a time; a dead holder's lock is stale."""

import os
import subprocess
import sys

import pytest

from imdb_tfx.core.home import Home, HomeBusyError

HOLD = """
import sys, time
from imdb_tfx.core.home import Home
with Home.at(sys.argv[1]).locked('run r-1 (imdb-tfx run)'):
    print('held', flush=True)
    time.sleep(60)
"""


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    home = Home.at(str(tmp_path / 'home'))
    holder = subprocess.Popen([sys.executable, '-c', HOLD, home.root], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(HomeBusyError) as error:
            with home.locked('run r-2 (imdb-tfx run)'):
                pytest.fail('entered a held home')
        message = str(error.value)
        assert message.startswith(f'{home.root}: in use by run r-1 (imdb-tfx run) (pid {holder.pid}, started ')
        assert 'wait for it to finish, or use another --home' in message
        # Another home is not held.
        with Home.at(str(tmp_path / 'other')).locked('run r-3'):
            pass
    finally:
        holder.kill()
        holder.wait()
    # Killed: the kernel released its lock, so the home is free again.
    with home.locked('run r-4'):
        with open(home.lock_path, encoding='utf-8') as f:
            assert f.read().startswith(f'run r-4 (pid {os.getpid()}, ')


def test_the_lock_is_released_on_an_error(tmp_path):
    home = Home.at(str(tmp_path))
    with pytest.raises(RuntimeError):
        with home.locked('run r-1'):
            raise RuntimeError('a failed run')
    with home.locked('run r-2'):
        pass
