"""The serving directory: <serving_dir>/<version>/, one SavedModel per pushed
version, the highest version being the one served (TF Serving's policy). It
may be local or on object storage (gs://, s3://, ram://): every access goes
through TFX's file layer.

A push never shows a server half a version. The model is first copied to a
hidden sibling, `.<version>.building-<random>` (core/atomic.py: not a number,
so servers and versions() skip it), then:
- local filesystem: renamed to <version>, atomic on POSIX; a server sees the
  whole version or none.
- object storage, where a rename is a copy: the staged copy is checked against
  the model (same files, same sizes), then copied to <version> with
  saved_model.pb last, and deleted. Until saved_model.pb lands a server may
  see <version> without it: TF Serving's load fails and is retried (by
  default 5 times, a minute apart) while the previous version keeps serving;
  versions() does not list it.
A failed push removes what it wrote; nothing else is ever deleted, and no
delete follows a link out of the serving directory (atomic.remove_tree).

A version is a name of ASCII digits up to 2**63-1, as TF Serving reads them
(an int64): any other name, say '²' or '١٢٣' (digits to str.isdigit()), is
ignored by servers, versions() and the next version's number. A version that
is a symbolic link is not followed (its number still counts for the next one).
"""

import logging
import os
import re
import time
from typing import Dict, List, Optional, Sequence

import tensorflow as tf
from google.protobuf import message
from tensorflow.core.protobuf import saved_model_pb2
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from imdb_tfx.core import atomic
from imdb_tfx.core.errors import UserInputError
from imdb_tfx.core.names import EXAMPLES_SIGNATURE, OUTPUT_KEY, TEXT_SIGNATURE

SAVED_MODEL_FILE = 'saved_model.pb'
# A staging folder older than this was left by a killed push (core/atomic.py).
STALE_STAGING_SECONDS = 3600
FINGERPRINT_FILE = 'fingerprint.pb'
_VERSION = re.compile(r'[0-9]+', re.ASCII)
_MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64


class PushError(OSError):
    """A push that could not be written: the serving directory is unchanged."""


def versions(serving_dir: str) -> List[str]:
    """Complete pushed versions, oldest first (TF Serving's order: numeric)."""
    if not fileio.isdir(serving_dir):
        return []
    names = (name.rstrip('/') for name in fileio.listdir(serving_dir))  # object stores: 'name/'
    complete = (
        v
        for v in names
        if _version_number(v) is not None
        and not os.path.islink(os.path.join(serving_dir, v))
        and fileio.exists(os.path.join(serving_dir, v, SAVED_MODEL_FILE))
    )
    return sorted(complete, key=int)


def _version_number(name: str) -> Optional[int]:
    """The version NAME stands for, as TF Serving reads it; None: no version."""
    if not _VERSION.fullmatch(name):
        return None
    number = int(name)
    return number if number <= _MAX_VERSION else None


def newest(serving_dir: str) -> Optional[str]:
    found = versions(serving_dir)
    return os.path.join(serving_dir, found[-1]) if found else None


def model_problem(model_dir: str) -> Optional[str]:
    """Why MODEL_DIR is not a model of this pipeline (None: it is): its
    saved_model.pb is missing or unreadable, or lacks the two signatures
    (core.names). Reads the graph's proto only, never loads the model."""
    path = os.path.join(model_dir, SAVED_MODEL_FILE)
    try:
        proto = saved_model_pb2.SavedModel.FromString(io_utils.read_bytes_file(path))
    except (OSError, tf.errors.OpError, fileio.NotFoundError):
        return f'no readable {SAVED_MODEL_FILE}'
    except message.DecodeError:
        return f'{SAVED_MODEL_FILE} is damaged (not a SavedModel)'
    # TF's own entries (__saved_model_init_op) are no signatures a client calls.
    signatures = {key for graph in proto.meta_graphs for key in graph.signature_def if not key.startswith('__')}
    missing = [name for name in (EXAMPLES_SIGNATURE, TEXT_SIGNATURE) if name not in signatures]
    if missing:
        return f'not a model of this pipeline (no {" or ".join(missing)} signature; it has {sorted(signatures)})'
    return None


def ignored_entries(serving_dir: str) -> Dict[str, str]:
    """Every entry of the serving directory that is not a complete version,
    with why model servers and this tool ignore it."""
    if not fileio.isdir(serving_dir):
        return {}
    ignored = {}
    for name in sorted(entry.rstrip('/') for entry in fileio.listdir(serving_dir)):
        path = os.path.join(serving_dir, name)
        if name.startswith('.'):
            ignored[path] = 'hidden: a push in progress or interrupted'
        elif _version_number(name) is None:
            ignored[path] = 'not a version number'
        elif os.path.islink(path):
            ignored[path] = 'a link: not followed out of the serving directory'
        elif not fileio.isdir(path):
            ignored[path] = 'a file where a version folder should be'
        elif not fileio.exists(os.path.join(path, SAVED_MODEL_FILE)):
            ignored[path] = f'no {SAVED_MODEL_FILE}: an incomplete or foreign version'
    return ignored


def same_model(a: str, b: str) -> bool:
    """Whether two SavedModel directories hold the same model (TF's fingerprint:
    hashes of the graph, signatures and variables)."""
    fingerprints = [os.path.join(d, FINGERPRINT_FILE) for d in (a, b)]
    if not all(fileio.exists(f) for f in fingerprints):
        return False
    return io_utils.read_bytes_file(fingerprints[0]) == io_utils.read_bytes_file(fingerprints[1])


def publish(model_dir: str, serving_dir: str) -> str:
    """Copies a SavedModel in as the new newest version; returns its path.

    The version is the Unix time, or one more than the newest version when
    that is not larger (two pushes in a second, a rollback's version)."""
    # io_utils.copy_dir copies a missing folder as an empty one.
    if not fileio.exists(os.path.join(model_dir, SAVED_MODEL_FILE)):
        raise FileNotFoundError(f'{model_dir}: no {SAVED_MODEL_FILE}, not a SavedModel')
    try:
        fileio.makedirs(serving_dir)
        _remove_stale_leftovers(serving_dir)
        # Above every numeric entry, complete or not, so that no name is taken.
        # (An object store lists no folder until something is in it.)
        entries = fileio.listdir(serving_dir) if fileio.isdir(serving_dir) else []
        numbers = [n for n in (_version_number(e.rstrip('/')) for e in entries) if n is not None]
        version = max([int(time.time())] + [n + 1 for n in numbers])
        if version > _MAX_VERSION:
            raise OSError(f'no version number left: {_MAX_VERSION} is the largest TF Serving reads')
        target = os.path.join(serving_dir, str(version))
        _copy_in(model_dir, serving_dir, target)
    except (OSError, tf.errors.OpError, fileio.NotFoundError) as e:
        reason = ' '.join(str(getattr(e, 'message', None) or e).split())
        raise PushError(f'{serving_dir}: cannot push {model_dir}: {reason}') from e
    return target


def _copy_in(model_dir: str, serving_dir: str, target: str) -> None:
    staging = atomic.staging_path(target)
    try:
        io_utils.copy_dir(model_dir, staging)
        if _is_local(serving_dir):
            fileio.rename(staging, target)
        else:
            _check_copy(model_dir, staging)
            _copy_saved_model_last(staging, target)
    finally:
        _remove_quietly(staging)


def _remove_stale_leftovers(serving_dir: str) -> None:
    """Staging folders that a killed push left on local disk, once they are
    older than any push could take (servers ignore them meanwhile; on object
    storage they are only ignored)."""
    for path in atomic.leftovers(serving_dir):
        if _is_local(path) and time.time() - _modified(path) > STALE_STAGING_SECONDS:
            logging.warning('removing %s, left by an interrupted push', path)
            _remove_quietly(path)


def _modified(path: str) -> float:
    """When PATH itself (a link too, dangling or not) last changed; now when
    it is gone (another push removed it)."""
    try:
        return os.lstat(path).st_mtime
    except FileNotFoundError:
        return time.time()


def stage_locally(model_dir: str, scratch_dir: str) -> str:
    """model_dir itself when it is local, else a copy of it in scratch_dir: for
    steps that need local files."""
    if _is_local(model_dir):
        return model_dir
    local_copy = os.path.join(scratch_dir, os.path.basename(model_dir.rstrip('/')))
    io_utils.copy_dir(model_dir, local_copy)
    return local_copy


def predict(model_dir: str, texts: Sequence[str]) -> List[float]:
    """P(positive) for each text, through the model's raw-text signature."""
    try:
        signature = tf.saved_model.load(model_dir).signatures[TEXT_SIGNATURE]
    except (OSError, KeyError) as e:
        raise UserInputError(f'{model_dir}: not a servable model ({e})') from e
    probabilities = signature(text=tf.constant(list(texts), tf.string))[OUTPUT_KEY]
    return [float(p) for p in probabilities.numpy()[:, 0]]


def _is_local(path: str) -> bool:
    return '://' not in path


def _files_with_sizes(root: str) -> Dict[str, int]:
    """Size in bytes of every file under root, by its path relative to root."""
    root = root.rstrip('/')
    sizes = {}
    for directory, _, files in fileio.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            sizes[path[len(root) + 1 :]] = fileio.stat(path).length
    return sizes


def _check_copy(source: str, copy: str) -> None:
    if _files_with_sizes(copy) != _files_with_sizes(source):
        raise OSError(f'{copy}: not the same files and sizes as {source}')


def _copy_saved_model_last(source: str, target: str) -> None:
    """A server that finds target/saved_model.pb finds every other file too."""
    try:
        io_utils.copy_dir(source, target, deny_regex_patterns=[f'^{re.escape(source)}/{re.escape(SAVED_MODEL_FILE)}$'])
        io_utils.copy_file(os.path.join(source, SAVED_MODEL_FILE), os.path.join(target, SAVED_MODEL_FILE))
    except BaseException:
        _remove_quietly(target)
        raise


def _remove_quietly(path: str) -> None:
    """Removes a folder if it can (never what a link in it points to): a
    failed cleanup must not hide the push's own error."""
    try:
        atomic.remove_tree(path)
    except (OSError, tf.errors.OpError) as e:
        logging.warning('could not remove %s: %s', path, e)
