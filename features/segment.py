"""Segment family: market-wide crowding gauges of the micro-cap segment (same for every stock
on a day).

Each gauge aggregates that day's universe members (``History.in_universe``, built from data
known that day) against all stocks trading that day, so it uses cross-sections of dates up
to t only. Windows here count market days. The gauges are one
:class:`features.cross_section.CrossSection` (:data:`GAUGES`): per-row inputs from each
stock's history, per-day aggregates, then the rolling sums across days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.cross_section import cross_section
from features.history import History
from features.registry import feature

MIN_MEMBERS = 20


def _mean_by_date(h: History, x: pd.Series, mask: np.ndarray) -> pd.Series:
    ok = mask & x.notna().to_numpy()
    count = h.by_date(np.ones(h.n), ok)
    return (h.by_date(x.fillna(0.0).to_numpy(), ok) / count).where(count >= MIN_MEMBERS)


def _inputs(h: History) -> pd.DataFrame:
    """Per row: amount (0 where missing), ret_20 and B/P = book_equity / market_cap."""
    return pd.DataFrame({"amount": h.col("amount").fillna(0.0).to_numpy(), "ret_20": h.ret(20).to_numpy(),
                         "bp": (h.fundamentals["book_equity"] / h.col("market_cap")).to_numpy()})


def _per_day(h: History, x: pd.DataFrame) -> pd.DataFrame:
    """Per calendar day: universe and all-stock amount, and the three gauges without windows."""
    amount, r = x["amount"].to_numpy(), pd.Series(x["ret_20"].to_numpy())
    everyone = np.ones(h.n, bool)
    up = (r > 0).astype("float64").where(r.notna())
    frame = pd.DataFrame({"day": h.cal_idx, "bp": x["bp"].to_numpy(), "member": h.in_universe}).dropna(subset=["bp"])
    days = pd.RangeIndex(len(h.calendar))
    members = frame[frame["member"]].groupby("day")["bp"]
    spread = (members.median() - frame.groupby("day")["bp"].median()).reindex(days)
    return pd.DataFrame({
        "micro_amount": h.by_date(amount, h.in_universe),
        "total_amount": h.by_date(amount, everyone),
        "microcap_excess_ret_20": _mean_by_date(h, r, h.in_universe) - _mean_by_date(h, r, everyone),
        "microcap_breadth_20": _mean_by_date(h, up, h.in_universe),
        "microcap_bp_spread": spread.where(members.size().reindex(days, fill_value=0) >= MIN_MEMBERS),
    }, index=days)


def _finish(days: pd.DataFrame) -> pd.DataFrame:
    """The turnover share's 20-market-day sums; the other gauges as they are."""
    micro = days["micro_amount"].rolling(20, min_periods=20).sum()
    total = days["total_amount"].rolling(20, min_periods=20).sum()
    out = days.drop(columns=["micro_amount", "total_amount"])
    out.insert(0, "microcap_turnover_share_20", micro / total.where(total > 0))
    return out


GAUGES = cross_section(("microcap_turnover_share_20", "microcap_excess_ret_20", "microcap_breadth_20",
                        "microcap_bp_spread"), _inputs, _per_day, kind="days", finish=_finish)


@feature(lookback=20, family="segment", needs=("universe",), label="Micro-cap share of market turnover")
def microcap_turnover_share_20(h: History) -> pd.Series:
    """Universe amount / all-stock amount, summed over 20 market days (how crowded micro-caps
    are: a high share preceded the Jan-Feb 2024 liquidity crash)."""
    return h.broadcast(GAUGES.get(h, "microcap_turnover_share_20"))


@feature(lookback=21, family="segment", needs=("universe",), label="Micro-cap excess return, last month")
def microcap_excess_ret_20(h: History) -> pd.Series:
    """Mean ret_20 of universe members minus mean ret_20 of all stocks (a micro-cap rally or rout)."""
    return h.broadcast(GAUGES.get(h, "microcap_excess_ret_20"))


@feature(lookback=21, family="segment", needs=("universe",), label="Micro-cap breadth, last month")
def microcap_breadth_20(h: History) -> pd.Series:
    """Share of universe members with ret_20 > 0 (how broad the micro-cap move is)."""
    return h.broadcast(GAUGES.get(h, "microcap_breadth_20"))


@feature(lookback=1, family="segment", needs=("universe", "fundamentals"), label="Micro-cap cheapness (B/P spread)")
def microcap_bp_spread(h: History) -> pd.Series:
    """Median B/P of universe members minus median B/P of all stocks (how cheap micro-caps are
    as a segment; NaN with fewer than 20 members reporting)."""
    return h.broadcast(GAUGES.get(h, "microcap_bp_spread"))
