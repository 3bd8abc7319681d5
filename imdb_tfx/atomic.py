"""Outputs that appear whole or not at all: built in a sibling folder, then
renamed into place."""

import os
import shutil


def replace_dir(new: str, target: str) -> None:
    """Renames NEW to TARGET; a previous TARGET is set aside first and removed
    only once NEW is in place (restored if the rename fails)."""
    if not os.path.exists(target):
        os.rename(new, target)
        return
    old = f'{new}.old'
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_text(path: str, text: str) -> None:
    """Writes PATH whole: a temp file beside it, then an atomic rename."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    temp = f'{path}.{os.getpid()}.tmp'
    try:
        with open(temp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
