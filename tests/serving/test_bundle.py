"""Loading a bundle: verified, scored once, indexed by date; a damaged bundle is refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serving.bundle import Bundle, BundleError


def test_the_loaded_bundle_scores_like_the_export_and_orders_each_date(bundle: Bundle, bundle_dir: Path) -> None:
    snap = pd.read_parquet(bundle_dir / "snapshot.parquet")
    assert bundle.dates == bundle.manifest.dates and len(bundle.dates) == 12
    for day, book in bundle.books.items():
        rows = snap[(snap["date"].dt.date == day) & snap["in_universe"]]
        assert book.size == len(rows) == 100
        expected = rows.sort_values(["onnx_score", "symbol"], ascending=[False, True])
        assert list(book.m_symbol) == list(expected["symbol"])
        np.testing.assert_allclose(book.m_score, expected["onnx_score"], rtol=0, atol=1e-12)
        assert len(book.o_symbol) == int((snap["date"].dt.date == day).sum()) - 100
        assert list(book.o_symbol) == sorted(book.o_symbol) and all(r is not None for r in book.o_reason)
        caps = book.m_cap[np.argsort(book.m_cap_order)]
        assert (np.diff(caps) >= 0).all()  # cap order ranks members by market cap
        assert all(len(d) == 3 for d in book.m_drivers)


def _copy(bundle_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle_dir, tmp_path / "b"))


def _edit_manifest(path: Path, change) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "model.onnx").unlink(), "model.onnx is missing"),
    (lambda p: (p / "manifest.json").write_text("{not json"), "manifest.json: not valid JSON"),
    (lambda p: _edit_manifest(p, lambda m: m.pop("features")), "manifest.json: features: Field required"),
    (lambda p: _edit_manifest(p, lambda m: m.update(schema_version=2)), "schema_version 2, this service reads 1"),
    (lambda p: _edit_manifest(p, lambda m: m["files"].pop("snapshot.parquet")), "files.snapshot.parquet"),
    (lambda p: (p / "snapshot.parquet").write_bytes((p / "snapshot.parquet").read_bytes()[:-10] + b"0" * 10),
     "snapshot.parquet: SHA-256 differs"),
])
def test_a_damaged_bundle_is_refused_naming_the_file(damage, message: str, bundle_dir: Path, tmp_path: Path) -> None:
    path = _copy(bundle_dir, tmp_path)
    damage(path)
    with pytest.raises(BundleError, match=message):
        Bundle.load(path)


def test_scores_that_differ_from_the_export_are_refused(bundle_dir: Path, tmp_path: Path) -> None:
    """A snapshot re-written with other stored scores (hash updated) no longer matches the model."""
    from serving.bundle import sha256

    path = _copy(bundle_dir, tmp_path)
    snap = pd.read_parquet(path / "snapshot.parquet")
    snap.loc[snap["in_universe"].to_numpy().nonzero()[0][:3], "onnx_score"] += 0.01
    snap.to_parquet(path / "snapshot.parquet", index=False)
    _edit_manifest(path, lambda m: m["files"].update({"snapshot.parquet": sha256(path / "snapshot.parquet")}))
    with pytest.raises(BundleError, match="scores differ from the export-time scores"):
        Bundle.load(path)


def test_no_directory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="spotlight export --out"):
        Bundle.load(tmp_path / "nothing")


def test_crowding_must_cover_the_served_dates_and_may_be_absent(bundle_dir: Path, tmp_path: Path) -> None:
    path = _copy(bundle_dir, tmp_path)
    _edit_manifest(path, lambda m: m["crowding"]["by_date"].pop(m["dates"][0]))
    with pytest.raises(BundleError, match="crowding.by_date covers other dates"):
        Bundle.load(path)
    _edit_manifest(path, lambda m: m["crowding"]["by_date"].update({m["dates"][0]: {"regime": "frantic"}}))
    with pytest.raises(BundleError, match="crowding.by_date"):
        Bundle.load(path)
    _edit_manifest(path, lambda m: m.pop("crowding"))  # a bundle from before the flag
    old = Bundle.load(path)
    assert old.crowding(old.dates[-1]) is None
