"""Valuation family: size and point-in-time cheapness.

Ratios divide the latest fundamentals announced on or before t (``History.fundamentals``,
an as-of join on announce_date) by that day's market cap (close x shares_total). A stock
without an announced figure yet, or a market without the fundamentals table, gets NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import History
from features.registry import feature


def _per_cap(h: History, column: str) -> pd.Series:
    return h.fundamentals[column] / h.col("market_cap")


@feature(lookback=1, family="valuation", scale_free=False, label="Market cap (log)")
def log_market_cap(h: History) -> pd.Series:
    """log(close x shares_total) (size: the smallest names carry the premium)."""
    return np.log(h.col("market_cap"))


@feature(lookback=1, family="valuation", scale_free=False, label="Float market cap (log)")
def log_float_cap(h: History) -> pd.Series:
    """log(close x shares_float) (the size the market can actually trade)."""
    return np.log(h.col("float_cap"))


@feature(lookback=1, family="valuation", needs=("fundamentals",), label="Earnings yield (E/P)")
def ep(h: History) -> pd.Series:
    """net_income_ttm / market_cap, as announced by t (earnings yield; negative = loss)."""
    return _per_cap(h, "net_income_ttm")


@feature(lookback=1, family="valuation", needs=("fundamentals",), label="Book-to-price (B/P)")
def bp(h: History) -> pd.Series:
    """book_equity / market_cap, as announced by t (cheapness on assets)."""
    return _per_cap(h, "book_equity")


@feature(lookback=1, family="valuation", needs=("fundamentals",), label="Sales-to-price (S/P)")
def sp(h: History) -> pd.Series:
    """revenue_ttm / market_cap, as announced by t (cheapness on sales)."""
    return _per_cap(h, "revenue_ttm")


@feature(lookback=1, family="valuation", needs=("fundamentals",), label="Cash-flow-to-price (CF/P)")
def cfp(h: History) -> pd.Series:
    """operating_cash_flow_ttm / market_cap, as announced by t (cheapness on cash; NaN without it)."""
    return _per_cap(h, "operating_cash_flow_ttm")


@feature(lookback=250, family="valuation", needs=("fundamentals",), label="B/P against its own last year")
def bp_pct_250(h: History) -> pd.Series:
    """Percentile of today's B/P among the stock's last 250 sessions' B/P (cheap against its own year)."""
    return h.percentile(_per_cap(h, "book_equity"), 250)


@feature(lookback=750, family="valuation", needs=("fundamentals",), label="B/P against its own last 3 years")
def bp_pct_750(h: History) -> pd.Series:
    """Percentile of today's B/P among the stock's last 750 sessions' B/P (chronically cheap:
    cheap against its own last 3 years)."""
    return h.percentile(_per_cap(h, "book_equity"), 750)


@feature(lookback=121, family="valuation", needs=("fundamentals",), label="B/P change, last half-year")
def bp_change_120(h: History) -> pd.Series:
    """B/P today minus B/P 120 sessions ago (getting cheaper or being re-rated)."""
    bp_now = _per_cap(h, "book_equity")
    return bp_now - h.shift(bp_now, 120)


@feature(lookback=121, family="valuation", needs=("fundamentals",), label="E/P change, last half-year")
def ep_change_120(h: History) -> pd.Series:
    """E/P today minus E/P 120 sessions ago (earnings catching up with, or leaving, the price)."""
    ep_now = _per_cap(h, "net_income_ttm")
    return ep_now - h.shift(ep_now, 120)
