"""Segment family: market-wide crowding gauges of the micro-cap segment (same for every stock
on a day).

Each gauge aggregates that day's universe members (``History.in_universe``, built from data
known that day) against all stocks trading that day, so it uses cross-sections of dates up
to t only. Windows here count market days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import History
from features.registry import feature

MIN_MEMBERS = 20


def _mean_by_date(h: History, x: pd.Series, mask: np.ndarray) -> pd.Series:
    ok = mask & x.notna().to_numpy()
    count = h.by_date(np.ones(h.n), ok)
    return (h.by_date(x.fillna(0.0).to_numpy(), ok) / count).where(count >= MIN_MEMBERS)


@feature(lookback=20, family="segment", needs=("universe",), label="Micro-cap share of market turnover")
def microcap_turnover_share_20(h: History) -> pd.Series:
    """Universe amount / all-stock amount, summed over 20 market days (how crowded micro-caps
    are: a high share preceded the Jan-Feb 2024 liquidity crash)."""
    amount = h.col("amount").fillna(0.0).to_numpy()
    micro = h.by_date(amount, h.in_universe).rolling(20, min_periods=20).sum()
    total = h.by_date(amount, np.ones(h.n, bool)).rolling(20, min_periods=20).sum()
    return h.broadcast(micro / total.where(total > 0))


@feature(lookback=21, family="segment", needs=("universe",), label="Micro-cap excess return, last month")
def microcap_excess_ret_20(h: History) -> pd.Series:
    """Mean ret_20 of universe members minus mean ret_20 of all stocks (a micro-cap rally or rout)."""
    r = h.ret(20)
    everyone = np.ones(h.n, bool)
    return h.broadcast(_mean_by_date(h, r, h.in_universe) - _mean_by_date(h, r, everyone))


@feature(lookback=21, family="segment", needs=("universe",), label="Micro-cap breadth, last month")
def microcap_breadth_20(h: History) -> pd.Series:
    """Share of universe members with ret_20 > 0 (how broad the micro-cap move is)."""
    r = h.ret(20)
    up = (r > 0).astype("float64").where(r.notna())
    return h.broadcast(_mean_by_date(h, up, h.in_universe))


@feature(lookback=1, family="segment", needs=("universe", "fundamentals"), label="Micro-cap cheapness (B/P spread)")
def microcap_bp_spread(h: History) -> pd.Series:
    """Median B/P of universe members minus median B/P of all stocks (how cheap micro-caps are
    as a segment; NaN with fewer than 20 members reporting)."""
    bp = (h.fundamentals["book_equity"] / h.col("market_cap")).to_numpy()
    frame = pd.DataFrame({"day": h.cal_idx, "bp": bp, "member": h.in_universe}).dropna(subset=["bp"])
    days = pd.RangeIndex(len(h.calendar))
    members = frame[frame["member"]].groupby("day")["bp"]
    spread = (members.median() - frame.groupby("day")["bp"].median()).reindex(days)
    return h.broadcast(spread.where(members.size().reindex(days, fill_value=0) >= MIN_MEMBERS))
