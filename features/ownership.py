"""Ownership-stability family: who holds the stock and whether that is changing.

Holder figures are the latest disclosure announced on or before t and the same stock's
disclosure before it (``History.holders``). Where the market has no holders table, every
holder-based feature is NaN; ``float_ratio`` comes from the bars and is always defined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import History
from features.registry import feature


@feature(lookback=1, family="ownership", needs=("holders",), label="Change in number of holders")
def holder_count_change(h: History) -> pd.Series:
    """log(holder_count / previous disclosure's holder_count) (falling: shares concentrating)."""
    return np.log(h.holders["holder_count"] / h.holders["prev_holder_count"])


@feature(lookback=1, family="ownership", needs=("holders",), label="Top-10 holders' share of float")
def top10_ratio(h: History) -> pd.Series:
    """Share of float held by the ten largest holders, latest disclosure (stable core owners)."""
    return h.holders["top10_ratio"]


@feature(lookback=1, family="ownership", needs=("holders",), label="Change in top-10 holders' share")
def top10_change(h: History) -> pd.Series:
    """top10_ratio minus the previous disclosure's (insiders adding or leaving)."""
    return h.holders["top10_ratio"] - h.holders["prev_top10_ratio"]


@feature(lookback=1, family="ownership", needs=("holders",), label="Float shares per holder (log)")
def log_float_per_holder(h: History) -> pd.Series:
    """log(shares_float / holder_count) (few large holders vs a dispersed retail base)."""
    return np.log(h.col("shares_float") / h.holders["holder_count"])


@feature(lookback=1, family="ownership", label="Float share of all shares")
def float_ratio(h: History) -> pd.Series:
    """shares_float / shares_total (locked-up shares held by insiders)."""
    return h.col("shares_float") / h.col("shares_total")


@feature(lookback=1, family="ownership", needs=("holders",), label="Days since ownership disclosure")
def days_since_disclosure(h: History) -> pd.Series:
    """Market days from the latest holders announcement to t (how stale the ownership view is;
    weekdays stand in for market days before the calendar starts)."""
    return h.series(h.cal_idx - h.day_number(h.holders["announce_date"].to_numpy()))
