"""Forward-looking labels. They live in ``training`` so serving can never import them.

Each label as of day t (calendar position c) uses only days after t:

- ``label_excess_return_21``: adj_close at day c+21 / adj_open at day c+1 - 1 (buy at the
  next session's open after the signal, hold 21 market days), minus the mean of the same
  over that day's universe members. If the stock stops trading before c+21 (suspension or
  delisting), its last close on or before c+21 is used. NaN where entry is impossible
  (no bar or zero volume on day c+1, or an open at the limit-up price; where the market
  has no limit columns, a one-price bar above the previous close, i.e. locked limit-up all
  day), where day c+21 is beyond the data, and for rows outside the universe.
- ``label_rerating``: that excess return as a per-date rank in [0, 1] among universe
  members with a value, (rank - 1) / (count - 1), average ties.
- ``label_attention_shift``: the stock's percentile of turnover_20 within the universe at
  day c+21 minus at day c (NaN if it has no bar on day c+21).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.cross_section import CrossSection
from features.history import History
from features.transforms import rank
from features.turnover import turnover_20_percentile
from market.load import LIMIT_TOLERANCE

HORIZON = 21


def _lead(h: History, values: np.ndarray, k: int) -> np.ndarray:
    """values of the same stock exactly k market days later; NaN without a bar that day."""
    rows = h.rows_at_offset(k)
    return np.where(rows >= 0, np.asarray(values, dtype="float64")[rows], np.nan)


def forward_return(h: History, horizon: int = HORIZON) -> pd.Series:
    """Return from the next session's open to the close ``horizon`` market days ahead."""
    key = h.row_key
    bars = h.bars
    entry_open = _lead(h, bars["adj_open"].to_numpy(dtype="float64"), 1)
    volume = _lead(h, bars["volume"].to_numpy(dtype="float64"), 1)
    raw_open = _lead(h, bars["open"].to_numpy(dtype="float64"), 1)
    limit = _lead(h, h.col("limit_up").to_numpy(), 1)
    with np.errstate(invalid="ignore"):
        locked_open = raw_open >= limit * (1 - LIMIT_TOLERANCE)
    # without price-limit columns: a one-price bar above the previous close (locked all day)
    one_price = (bars["high"].to_numpy() == bars["low"].to_numpy()) & (h.ret(1).to_numpy() > 0)
    locked_open |= np.isnan(limit) & (_lead(h, one_price.astype("float64"), 1) == 1.0)
    can_enter = (volume > 0) & ~locked_open
    exit_row = np.searchsorted(key, key + horizon, side="right") - 1
    exit_close = bars["adj_close"].to_numpy(dtype="float64")[exit_row]
    known = h.cal_idx + horizon < len(h.calendar)
    out = np.where(can_enter & known, exit_close / entry_open - 1.0, np.nan)
    return h.series(out)


def _members_by_date(h: History, values: np.ndarray) -> pd.DataFrame:
    ok = h.in_universe & ~np.isnan(values)
    return pd.DataFrame({"day": h.cal_idx[ok], "value": values[ok]}, index=np.flatnonzero(ok))


def _forward(h: History) -> pd.DataFrame:
    return pd.DataFrame({"forward_return": forward_return(h).to_numpy()})


def _excess_and_rank(h: History, x: pd.DataFrame) -> pd.DataFrame:
    """Per row: forward return minus the day's universe mean (members only), and its per-date rank.

    The mean sums each day's values in symbol order (``History.by_date``), so it is the same
    number whatever else shares the frame (a groupby mean's last bit depends on how days
    interleave, and a Dask date partition holds other days than the whole market)."""
    forward = x["forward_return"].to_numpy(dtype="float64")
    ok = h.in_universe & ~np.isnan(forward)
    mean = (h.by_date(np.where(ok, forward, 0.0), ok) / h.by_date(np.ones(h.n), ok)).to_numpy()
    excess = np.where(ok, forward - mean[h.cal_idx], np.nan)
    frame = _members_by_date(h, excess)
    ranked = np.full(h.n, np.nan)
    ranked[frame.index.to_numpy()] = rank(frame[["value"]], frame["day"])["value"].to_numpy()
    return pd.DataFrame({"label_excess_return_21": excess, "label_rerating": ranked})


RETURNS = CrossSection(("label_excess_return_21", "label_rerating"), _forward, _excess_and_rank)


def label_excess_return_21(h: History) -> pd.Series:
    """Forward 21-day return minus the universe mean that day (members only)."""
    return RETURNS.get(h, "label_excess_return_21")


def label_rerating(h: History) -> pd.Series:
    """Per-date rank in [0, 1] of the forward 21-day excess return among universe members."""
    return RETURNS.get(h, "label_rerating")


def label_attention_shift(h: History) -> pd.Series:
    """Universe percentile of turnover_20, 21 market days ahead minus today."""
    pct = turnover_20_percentile(h).to_numpy()
    return h.series(_lead(h, pct, HORIZON) - pct)


CROSS_SECTIONS = (RETURNS,)  # the labels' own cross-sections, for a panel built on Dask
LABELS = {
    "label_rerating": label_rerating,
    "label_attention_shift": label_attention_shift,
    "label_excess_return_21": label_excess_return_21,
}
