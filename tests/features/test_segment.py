"""Segment gauges: the same value for every stock on a day, computed from the universe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import History, UniverseConfig, build_universe
from features.segment import microcap_bp_spread, microcap_breadth_20, microcap_excess_ret_20, microcap_turnover_share_20
from tests.helpers import make_market

DAYS, STOCKS, MEMBERS = 40, 30, 20


def _history() -> History:
    """30 stocks; the 20 smallest are the universe. Even members rise 1% a day, odd ones fall
    1%; the 10 large stocks rise 2% a day."""
    steps = np.arange(DAYS)
    stocks = {}
    for i in range(STOCKS):
        size = 1.0 + i  # sets the market cap order
        drift = 0.02 if i >= MEMBERS else (0.01 if i % 2 == 0 else -0.01)
        stocks[f"S{i:02d}"] = {"close": size * (1 + drift) ** steps, "shares_total": 1e6 * (1 + i)}
    fundamentals = pd.DataFrame({
        "symbol": list(stocks), "period_end": pd.Timestamp("2020-12-31"),
        "announce_date": pd.Timestamp("2021-01-01"), "net_income_ttm": 1e6, "revenue_ttm": 1e8,
        "book_equity": [4e6 if i < MEMBERS else 1e6 for i in range(STOCKS)],
    })
    h = History(make_market(stocks, DAYS, fundamentals=fundamentals))
    h.attach_universe(build_universe(h, UniverseConfig(n=MEMBERS, min_listed_days=1))["in_universe"].to_numpy())
    return h


def _one_value_per_day(h: History, values: pd.Series) -> pd.Series:
    per_day = values.groupby(h.cal_idx).nunique(dropna=False)
    assert (per_day == 1).all()
    return values.groupby(h.cal_idx).first()


def test_turnover_share_is_the_universe_share_of_traded_amount() -> None:
    h = _history()
    share = _one_value_per_day(h, microcap_turnover_share_20(h))
    assert share.iloc[:19].isna().all()
    amount = h.bars["amount"].groupby(h.cal_idx)
    member_amount = h.bars["amount"].where(h.in_universe, 0.0).groupby(h.cal_idx)
    expected = member_amount.sum().rolling(20).sum() / amount.sum().rolling(20).sum()
    np.testing.assert_allclose(share.iloc[19:], expected.iloc[19:])


def test_breadth_and_excess_return_of_the_segment() -> None:
    h = _history()
    breadth = _one_value_per_day(h, microcap_breadth_20(h))
    assert breadth.iloc[:20].isna().all()
    np.testing.assert_allclose(breadth.iloc[20:], 0.5)
    excess = _one_value_per_day(h, microcap_excess_ret_20(h)).iloc[-1]
    members = (1.01**20 - 1 + 0.99**20 - 1) / 2
    assert excess == pytest.approx(members - (members * 20 + (1.02**20 - 1) * 10) / 30)


def test_valuation_spread_is_member_median_minus_market_median() -> None:
    h = _history()
    spread = _one_value_per_day(h, microcap_bp_spread(h)).iloc[0]
    bp = h.fundamentals["book_equity"] / h.bars["market_cap"]
    first = h.cal_idx == 0
    assert spread == pytest.approx(bp[first & h.in_universe].median() - bp[first].median())
