"""Calibration figures on a hand-made market with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from market import load_market
from market.calibration import compare, stylised_facts


def test_suspension_and_delisting_known_answers(tiny_dir: Path) -> None:
    facts = stylised_facts(load_market(tiny_dir))
    # listed stock-days: AAA 6, BBB 6, CCC 4 (03-02..03-05) = 16; trading bars: 15 rows - 1 zero-volume = 14
    assert facts["suspension_rate"] == pytest.approx(1 - 14 / 16)
    # one delisting in a span of 7 calendar days with 16/6 stocks listed on average
    assert facts["delisting_rate_yearly"] == pytest.approx(1 / (16 / 6 * 7 / 365.25))
    # BBB's +10% on 03-08 is a limit-up, but it falls among BBB's first 5 trading bars, which are left out
    assert facts["limit_up_share"] == 0.0


def test_compare_marks_ratios_within_tolerance() -> None:
    table = compare({"vol_q1": 0.03, "st_share": 0.2}, {"vol_q1": 0.025, "st_share": 0.05})
    row = table.set_index("key")
    assert row.loc["vol_q1", "within"] and not row.loc["st_share", "within"]
    assert row.loc["vol_q1", "ratio"] == pytest.approx(1.2)
