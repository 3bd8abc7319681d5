"""Outputs that appear whole or not at all, on TFX's file layer (fileio: local
paths, gs://, s3://): built under a hidden sibling name, then renamed into
place. On a local filesystem the rename is atomic. On object storage a rename
is a copy (and TensorFlow's filesystems may not rename folders at all), so
folders are built locally with replacing_dir, and writers to object storage
order their files themselves (core/serving.py, prepare_data.upload).

A hidden sibling is `.<name>.<tag>-<random>`: it starts with a dot, so
neither TF Serving (numeric versions only) nor a glob of the outputs sees it,
and leftovers() finds what a killed process left behind.

Removing a folder never follows a link out of it (remove_tree): a link in a
folder that is cleaned up is removed itself, never what it points to."""

import contextlib
import os
import re
import shutil
import uuid
from typing import Callable, Iterator, List

import tensorflow as tf
from tfx.dsl.io import fileio

from imdb_tfx.core.errors import UserInputError

_STAGING = re.compile(r'^\.(?P<name>.+)\.(?P<tag>building|old|tmp)-[0-9a-f]{8}$')


def staging_path(target: str, tag: str = 'building') -> str:
    """A new hidden sibling of TARGET, on the same filesystem."""
    parent, name = os.path.split(target.rstrip('/'))
    return os.path.join(parent, f'.{name}.{tag}-{uuid.uuid4().hex[:8]}')


def leftovers(parent: str) -> List[str]:
    """Hidden siblings under PARENT that an interrupted write left behind."""
    if not fileio.isdir(parent):
        return []
    entries = (entry.rstrip('/') for entry in fileio.listdir(parent))  # object stores list 'name/'
    return sorted(os.path.join(parent, entry) for entry in entries if _STAGING.match(entry))


def remove_tree(path: str) -> None:
    """Removes PATH and everything in it, if it is there. On local disk a link,
    at the top or inside, is removed itself, never its target (shutil.rmtree
    does not follow links; TensorFlow's recursive delete does). Object stores
    (gs://, s3://) have no links: TFX's file layer removes there."""
    if '://' in path:
        if fileio.isdir(path):
            fileio.rmtree(path)
    elif os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def check_replaceable(target: str, is_output: Callable[[str], bool], what: str) -> None:
    """Only a missing or empty folder or a previous output (is_output) may be
    replaced: never, say, a mistyped $HOME."""
    if fileio.isdir(target) and (not fileio.listdir(target) or is_output(target)):
        return
    if fileio.exists(target):
        raise UserInputError(f'{target}: exists and is not {what}; not replacing it')


@contextlib.contextmanager
def replacing_dir(target: str) -> Iterator[str]:
    """Yields an empty hidden sibling folder to build TARGET in. When the block
    ends without an error it replaces TARGET: a previous TARGET is set aside
    first and removed only once the new one is in place (put back if that
    fails). On an error TARGET is untouched and the sibling removed; a
    location where nothing can be written is a UserInputError."""
    staging = staging_path(target)
    try:
        fileio.makedirs(staging)
    except (OSError, tf.errors.OpError) as e:
        raise UserInputError(f'{target}: cannot create the output ({e})') from e
    try:
        yield staging
        _replace(staging, target)
    finally:
        if fileio.exists(staging):
            remove_tree(staging)


def write_text(path: str, text: str) -> None:
    """Writes PATH whole: a hidden sibling file, then a rename over PATH."""
    fileio.makedirs(os.path.dirname(path) or '.')
    temp = staging_path(path, tag='tmp')
    try:
        with fileio.open(temp, 'w') as f:
            f.write(text)
        fileio.rename(temp, path, overwrite=True)
    finally:
        if fileio.exists(temp):
            fileio.remove(temp)


def _replace(new: str, target: str) -> None:
    if not fileio.exists(target):
        fileio.rename(new, target)
        return
    old = staging_path(target, tag='old')
    fileio.rename(target, old)
    try:
        fileio.rename(new, target)
    except BaseException:
        fileio.rename(old, target)
        raise
    remove_tree(old)
