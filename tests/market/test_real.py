"""The real A-share dev market validates and loads (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from market import asof_join, load_market
from market.calibration import stylised_facts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(real_market_dir: Path):
    return load_market(real_market_dir)


def test_real_market_validates_and_loads(real) -> None:
    assert real.summary() == ("2833 symbols, 3216257 stock-days, 2010-01-04..2015-12-31, "
                              "tables: securities, daily_bars, fundamentals (holders absent)")
    assert real.bars["limit_up"].isna().all()  # no limits in this source: locks are never inferred
    assert not real.bars["limit_up_locked"].any()
    assert (real.bars["tradable"] == ~real.bars["suspended"]).all()


def test_real_fundamentals_join_point_in_time(real) -> None:
    bars = real.bars.loc[real.bars["date"] >= "2014-04-01", ["symbol", "date"]]
    joined = asof_join(bars, real.fundamentals, ["book_equity"])
    known = joined["announce_date"].notna().to_numpy()
    assert known.mean() > 0.3
    assert (joined["announce_date"].to_numpy()[known] <= bars["date"].to_numpy()[known]).all()


def test_real_stylised_facts_are_plausible(real) -> None:
    facts = stylised_facts(real)
    assert 0.015 < facts["vol_q1"] < 0.04
    assert 0.6 < facts["turnover_ac1"] < 0.95
    assert 0.0 < facts["size_premium_rankic"] < 0.3
    assert np.isfinite(list(facts.values())).all()
