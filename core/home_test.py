"""One process holds a home at a time; a dead holder's lock is stale."""

import fcntl
import os
import stat
import subprocess
import sys

import pytest

from imdb_tfx.core.errors import UserInputError
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


@pytest.mark.parametrize(
    'make_link, refusal',
    [(os.symlink, 'is a symbolic link'), (os.link, 'is a file with other names')],
    ids=['symbolic', 'hard'],
)
def test_a_link_as_the_lock_file_is_refused_and_its_target_left_as_it_is(tmp_path, make_link, refusal):
    home = Home.at(str(tmp_path / 'home'))
    os.makedirs(home.root)
    outside = tmp_path / 'precious.txt'
    outside.write_text('keep me\n')
    make_link(outside, home.lock_path)
    with pytest.raises(UserInputError) as error:
        with home.locked('run r-1'):
            pytest.fail('took a lock through a link')
    assert str(error.value).startswith(f'{home.lock_path}: {refusal}')
    assert '\n' not in str(error.value)
    assert outside.read_text() == 'keep me\n'
    assert os.path.lexists(home.lock_path)
    if make_link is os.symlink:
        assert os.path.islink(home.lock_path)


def test_the_last_holders_line_stays_until_the_lock_is_taken(tmp_path):
    """Opening the lock file truncates nothing: a refused process leaves the
    holder's line for the next one to read."""
    home = Home.at(str(tmp_path))
    with home.locked('run r-1'):
        pass
    with open(home.lock_path, encoding='utf-8') as f:
        line = f.read()
    assert line.startswith('run r-1 (pid ')
    with open(home.lock_path, 'r+', encoding='utf-8') as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(HomeBusyError, match='in use by run r-1 '):
            with home.locked('run r-2'):
                pytest.fail('entered a held home')
        f.seek(0)
        assert f.read() == line
    assert stat.S_IMODE(os.stat(home.lock_path).st_mode) == 0o644 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
