"""The repo's contract is the shared one, verbatim, plus a compatible reading of it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data-contract.md"


def test_contract_copy_starts_with_the_shared_contract() -> None:
    if not SHARED.exists():
        pytest.skip(f"shared contract absent: {SHARED}")
    ours = (ROOT / "docs" / "data-contract.md").read_text()
    assert ours.startswith(SHARED.read_text()), "docs/data-contract.md drifted from ../shared/data-contract.md"


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().split("## ", 2)[1]
    assert "make demo" in head and "make test" in head


def test_feature_catalogue_matches_the_registry() -> None:
    from features.registry import catalogue

    assert (ROOT / "docs" / "features.md").read_text() == catalogue(), "run `make docs` to regenerate docs/features.md"
