"""The layout of a pipeline home: every output of local runs lives under it."""

import contextlib
import dataclasses
import errno
import fcntl
import os
import stat
import time
from typing import Iterator, TextIO

from imdb_tfx.core.errors import UserInputError

DEFAULT_HOME = 'home'


class HomeBusyError(UserInputError):
    """Another process holds the home."""


@dataclasses.dataclass(frozen=True)
class Home:
    root: str

    @classmethod
    def at(cls, path: str) -> 'Home':
        return cls(os.path.abspath(path))

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.root, 'tfx')

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.root, 'metadata.sqlite')

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.root, 'serving')

    @property
    def data_cache(self) -> str:
        """Prepared TFRecords of raw sources, one folder per source checksum."""
        return os.path.join(self.root, 'data')

    @property
    def embeddings_dir(self) -> str:
        return os.path.join(self.root, 'embeddings')

    @property
    def reports_dir(self) -> str:
        """`imdb-tfx report`'s HTML files, one per run."""
        return os.path.join(self.root, 'reports')

    @property
    def logs_dir(self) -> str:
        """Each long command's log: everything the libraries said."""
        return os.path.join(self.root, 'logs')

    @property
    def downloads_dir(self) -> str:
        return os.path.join(self.root, 'downloads')

    @property
    def lock_path(self) -> str:
        return os.path.join(self.root, 'home.lock')

    @contextlib.contextmanager
    def locked(self, what: str) -> Iterator[None]:
        """Holds the home for one process (a run, a rollback): taken before any
        work, released on every exit path. It is an flock on HOME/home.lock,
        which the kernel releases when the process dies, so a lock left by a
        killed run is stale by construction; the file itself only says who
        holds it. A second process is refused at once, naming the holder."""
        os.makedirs(self.root, exist_ok=True)
        handle = self._open_lock()
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or 'another process'
                raise HomeBusyError(
                    f'{self.root}: in use by {holder}; wait for it to finish, or use another --home'
                ) from None
            # Only now, holding the lock, is the last holder's line replaced.
            handle.seek(0)
            handle.truncate()
            started = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())
            handle.write(f'{what} (pid {os.getpid()}, started {started})\n')
            handle.flush()
            yield
        finally:
            handle.close()  # releases the flock

    def _open_lock(self) -> TextIO:
        """HOME/home.lock, opened for reading and writing, created when
        missing and never truncated here (a holder's line stays until the lock
        is taken). A symbolic link there is refused, not followed: its target,
        anywhere, would be truncated and overwritten; so are a hard link (a
        file with other names) for the same reason and anything but a regular
        file."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:
                reason = "is a symbolic link, not the home's lock file; remove it"
            else:
                reason = f"cannot be opened as the home's lock file ({e.strerror})"
            raise UserInputError(f'{self.lock_path}: {reason}') from None
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink > 1:
            os.close(fd)
            kind = 'not a regular file' if not stat.S_ISREG(found.st_mode) else 'a file with other names (a hard link)'
            raise UserInputError(f"{self.lock_path}: is {kind}, not the home's lock file; remove it")
        return os.fdopen(fd, 'r+', encoding='utf-8')
