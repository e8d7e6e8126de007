"""Versioned publishing: current swaps in one rename, old bundles are pruned, rollback goes back."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from release.publish import PublishError, current, history, publish, rollback
from serving.bundle import resolve


def fake_bundle(tmp: Path, version: int, bundle_id: str) -> Path:
    path = tmp / f"staging-{version}-{bundle_id}"
    path.mkdir()
    (path / "manifest.json").write_text(json.dumps({"schema_version": 1, "bundle_id": bundle_id,
                                                     "model": {"version": str(version)}}))
    return path


def test_publish_makes_the_bundle_current_and_keeps_the_newest(tmp_path: Path) -> None:
    root = tmp_path / "bundles"
    names = [publish(fake_bundle(tmp_path, v, f"{v:016x}"), root, keep=3) for v in range(1, 6)]
    assert names[-1] == "v0005-0000000000000005" and current(root) == names[-1]
    assert resolve(root) == (root / names[-1]).resolve() and resolve(root / names[0]) == root / names[0]
    assert history(root) == names[-3:]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("v")) == names[-3:]
    assert (root / "current").is_symlink() and os.readlink(root / "current") == names[-1]  # relative link
    assert not list(tmp_path.glob("staging-*"))  # moved, not copied


def test_publishing_the_same_bundle_again_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "bundles"
    first = publish(fake_bundle(tmp_path, 1, "a" * 16), root)
    again = publish(fake_bundle(tmp_path, 1, "a" * 16), root)
    assert first == again and history(root) == [first] and current(root) == first


def test_a_re_export_of_the_served_version_replaces_it(tmp_path: Path) -> None:
    """A new crowding rule re-publishes version 2: rollback still returns to version 1."""
    root = tmp_path / "bundles"
    a, b = (publish(fake_bundle(tmp_path, v, f"{v:016x}"), root) for v in (1, 2))
    b2 = publish(fake_bundle(tmp_path, 2, "b" * 16), root)
    assert current(root) == b2 and history(root) == [a, b2] and not (root / b).exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".trash")]
    assert rollback(root) == (b2, a)


def test_rollback_goes_back_one_bundle_at_a_time(tmp_path: Path) -> None:
    root = tmp_path / "bundles"
    a, b, c = (publish(fake_bundle(tmp_path, v, f"{v:016x}"), root) for v in (1, 2, 3))
    assert rollback(root) == (c, b) and current(root) == b
    assert rollback(root) == (b, a) and current(root) == a
    with pytest.raises(PublishError, match="no bundle published before"):
        rollback(root)
    d = publish(fake_bundle(tmp_path, 4, "d" * 16), root)
    assert d == current(root) and history(root) == [a, d]  # b and c were rolled back from: out of the history
    assert rollback(root) == (d, a)  # back to the last good one, never to a bundle rolled back from


def test_clean_records_a_served_bundle_the_history_missed_and_removes_orphans(tmp_path: Path) -> None:
    from release.publish import _point, clean

    root = tmp_path / "bundles"
    a = publish(fake_bundle(tmp_path, 1, "a" * 16), root)
    b_dir = fake_bundle(tmp_path, 2, "b" * 16)
    os.replace(b_dir, root / ("v0002-" + "b" * 16))
    _point(root, "v0002-" + "b" * 16)  # as if killed right after the swap
    orphan = fake_bundle(tmp_path, 3, "c" * 16)
    os.replace(orphan, root / ("v0003-" + "c" * 16))  # as if killed before the swap
    (root / ".trash-v0000-x").mkdir()
    assert clean(root) == ["v0003-" + "c" * 16]
    assert history(root) == [a, "v0002-" + "b" * 16] and rollback(root)[1] == a
    assert not list(root.glob(".trash-*"))


def test_a_crash_before_the_swap_leaves_current_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "bundles"
    first = publish(fake_bundle(tmp_path, 1, "a" * 16), root)

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr("release.publish._point", crash)
    with pytest.raises(OSError):
        publish(fake_bundle(tmp_path, 2, "b" * 16), root)
    assert current(root) == first and (root / first / "manifest.json").is_file()
    monkeypatch.undo()
    assert publish(fake_bundle(tmp_path, 2, "b" * 16), root) == "v0002-" + "b" * 16  # the next one succeeds


def test_keep_below_two_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="keep must be >= 2"):
        publish(fake_bundle(tmp_path, 1, "a" * 16), tmp_path / "bundles", keep=1)
    shutil.rmtree(tmp_path / "bundles", ignore_errors=True)
