"""Versioned, atomic publishing of serving bundles, and rollback.

A serving root holds one directory per published bundle and a ``current`` symlink::

    bundles/
      v0003-1a2b3c4d5e6f7a8b/     v<model version>-<bundle_id>
      v0004-9f8e7d6c5b4a3210/
      current -> v0004-9f8e...    what the service serves (a relative symlink)
      history.json                published names, oldest first

:func:`publish` moves a complete, fsynced bundle directory into the root, then replaces
``current`` in one ``rename`` (a new symlink renamed over the old one) and fsyncs the root,
so a reader sees the old bundle or the new one, never a mix or nothing. It then keeps the
newest ``keep`` bundles (never removing the current or the previous one). Publishing a bundle
whose directory already exists re-points ``current`` and copies nothing; publishing another
bundle of the model version being served (a re-export, e.g. under a new crowding rule)
replaces that bundle, in the history too. :func:`rollback`
points ``current`` at the bundle published before it and drops the one it left from the
history (it is never rolled back to again). A crash at any step leaves ``current``
pointing at a complete bundle; :func:`clean` records a served bundle the history missed and
removes bundle directories a crash left outside the history.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from market.atomic import atomic_path, fsync_dir
from serving.bundle import CURRENT, MANIFEST

HISTORY = "history.json"


class PublishError(Exception):
    """Nothing to publish or roll back to; the message says why."""


def bundle_name(manifest: dict) -> str:
    """A bundle's directory name: ``v<model version, 4 digits>-<bundle_id>``."""
    return f"v{int(manifest['model']['version']):04d}-{manifest['bundle_id']}"


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as JSON atomically (:mod:`market.atomic`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2), encoding="utf-8")


def history(root: Path) -> list[str]:
    """Published bundle names, oldest first (empty for a new root)."""
    path = Path(root) / HISTORY
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def current(root: Path) -> str | None:
    """The bundle ``current`` points at, or None."""
    link = Path(root) / CURRENT
    return os.readlink(link) if link.is_symlink() else None


def _point(root: Path, name: str) -> None:
    tmp = root / f".{CURRENT}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)
    os.replace(tmp, root / CURRENT)
    fsync_dir(root)


def publish(bundle_dir: str | Path, root: str | Path, keep: int = 5) -> str:
    """Move ``bundle_dir`` into ``root`` and make it current; returns its name."""
    bundle_dir, root = Path(bundle_dir), Path(root)
    if keep < 2:
        raise PublishError(f"keep must be >= 2 (the current and the previous bundle), got {keep}")
    manifest = json.loads((bundle_dir / MANIFEST).read_text(encoding="utf-8"))
    name = bundle_name(manifest)
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    if target.exists():
        shutil.rmtree(bundle_dir, ignore_errors=True)  # the same bundle is already published
    else:
        os.replace(bundle_dir, target)
        fsync_dir(root)
    before = current(root)
    _point(root, name)  # the commit point
    # a re-export of the served model version (e.g. under a new crowding rule) supersedes that
    # bundle rather than stacking on it, so a rollback still returns to the previous model
    superseded = before if before not in (None, name) and before.split("-")[0] == name.split("-")[0] else None
    past = [n for n in history(root) if n not in (name, superseded) and (root / n).is_dir()]
    write_json(root / HISTORY, [*past, name])
    if superseded is not None:
        _trash(root, superseded)
    _prune(root, keep)
    return name


def clean(root: str | Path) -> list[str]:
    """Remove what an interrupted publish left: bundle directories neither current nor in the
    history, and temporary links. Returns the names removed."""
    root = Path(root)
    if not root.is_dir():
        return []
    now, past = current(root), history(root)
    if now is not None and now not in past:  # killed between the swap and the history write
        write_json(root / HISTORY, [*past, now])
        past = [*past, now]
    keep = {now, *past}
    removed = []
    for path in root.iterdir():
        if path.is_dir() and not path.is_symlink() and path.name.startswith("v") and path.name not in keep:
            _trash(root, path.name)
            removed.append(path.name)
    for stale in [*root.glob(f".{CURRENT}.tmp-*"), *root.glob(".trash-*")]:
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
    return removed


def previous(root: str | Path) -> tuple[str, str]:
    """(current bundle, the one published before it); PublishError when there is none."""
    root = Path(root)
    now = current(root)
    past = [n for n in history(root) if (root / n).is_dir()]
    if now not in past or past.index(now) == 0:
        raise PublishError(f"{root}: no bundle published before {now or 'nothing'} to roll back to")
    return now, past[past.index(now) - 1]


def rollback(root: str | Path) -> tuple[str, str]:
    """Point ``current`` at the bundle published before it; returns (from, to)."""
    root = Path(root)
    now, before = previous(root)
    _point(root, before)
    write_json(root / HISTORY, [n for n in history(root) if n != now and (root / n).is_dir()])  # never again
    return now, before


def _trash(root: Path, name: str) -> None:
    """Rename first, then delete: a kill mid-delete leaves a ``.trash-*`` directory, never a
    half-deleted bundle under its published name."""
    trash = root / f".trash-{name}"
    os.replace(root / name, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _prune(root: Path, keep: int) -> None:
    names = history(root)
    now = current(root)
    protected = {now, *names[-2:]}
    for name in names[:-keep]:
        if name not in protected:
            _trash(root, name)
    write_json(root / HISTORY, [n for n in names if (root / n).is_dir()])
    for stale in root.glob(f".{CURRENT}.tmp-*"):
        stale.unlink(missing_ok=True)
