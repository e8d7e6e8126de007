"""Atomic replacement of a file or a directory: the one way Spotlight writes an artifact.

The guarantee: ``target`` is never half-written. Content is written into a temporary sibling
(same directory, so the final rename stays on one file system), fsynced, then renamed over
``target``. A file is replaced in one ``rename``, so a reader sees the old or the new one. A
directory cannot be renamed over a non-empty one: the old directory is renamed aside first
(``.NAME.old-PID``), the new one renamed in, then the old one removed; a process killed in
between leaves the old content whole under that name and no partial ``target``. If writing
fails, the temporary is removed and ``target`` is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename inside it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        with open(file, "rb") as f:
            os.fsync(f.fileno())


def staging_path(target: Path, directory: bool = False) -> Path:
    """A fresh temporary sibling of ``target`` (a created directory with ``directory``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from a reader running as another user
        return tmp
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


def replace(staged: Path, target: Path) -> None:
    """Move the fully written ``staged`` over ``target`` (see the module docstring)."""
    _fsync_tree(staged)
    if staged.is_dir() and target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        try:
            os.replace(staged, target)
        except OSError:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, target)
    fsync_dir(target.parent)


def remove(path: Path) -> None:
    """Remove a staged file or directory (nothing if it is gone)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``target`` to write (a file path, or a created directory
    with ``directory``); when the block ends normally it replaces ``target``, when it raises
    it is removed and ``target`` is untouched."""
    target = Path(target)
    staged = staging_path(target, directory)
    try:
        yield staged
        replace(staged, target)
    finally:
        if staged.exists():
            remove(staged)
