"""Valuation family: point-in-time ratios on a hand-made market."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import History
from features.valuation import bp, bp_pct_250, cfp, ep, log_market_cap, sp
from tests.helpers import make_market

DAYS = 30


def _fundamentals() -> pd.DataFrame:
    return pd.DataFrame({
        "symbol": ["AAA", "AAA"],
        "period_end": pd.to_datetime(["2020-12-31", "2021-01-08"]),
        # the second report becomes public on day 10 of the calendar (2021-01-15)
        "announce_date": pd.to_datetime(["2021-01-01", "2021-01-15"]),
        "net_income_ttm": [2e6, -1e6],
        "revenue_ttm": [4e7, 5e7],
        "book_equity": [1e7, 9e6],
        "operating_cash_flow_ttm": [3e6, np.nan],
    })


def test_ratios_use_the_latest_announced_figures_from_their_announcement_day() -> None:
    h = History(make_market({"AAA": {"close": np.full(DAYS, 10.0)}}, DAYS, fundamentals=_fundamentals()))
    cap = 10.0 * 2e6
    out = ep(h).to_numpy()
    np.testing.assert_allclose(out[:9], 2e6 / cap)
    np.testing.assert_allclose(out[9:], -1e6 / cap)
    assert bp(h).iloc[0] == pytest.approx(1e7 / cap) and bp(h).iloc[-1] == pytest.approx(9e6 / cap)
    assert sp(h).iloc[-1] == pytest.approx(5e7 / cap)
    assert cfp(h).iloc[0] == pytest.approx(3e6 / cap) and np.isnan(cfp(h).iloc[-1])
    assert log_market_cap(h).iloc[0] == pytest.approx(np.log(cap))


def test_no_fundamentals_table_gives_missing_ratios() -> None:
    h = History(make_market({"AAA": {"close": np.full(DAYS, 10.0)}}, DAYS))
    for f in (ep, bp, sp, cfp):
        assert f(h).isna().all()


def test_bp_percentile_is_one_when_the_stock_keeps_getting_cheaper() -> None:
    fundamentals = _fundamentals().iloc[:1]
    close = np.linspace(20, 10, 260)  # the price falls, so B/P rises every day
    h = History(make_market({"AAA": {"close": close}}, 260, fundamentals=fundamentals))
    out = bp_pct_250(h).to_numpy()
    assert np.isnan(out[:249]).all()
    np.testing.assert_allclose(out[249:], 1.0)
