"""Price-volume family: reversal, momentum, risk and the shape of trading.

Returns use adjusted closes (adj_close = close x adj_factor, total return); a k-session
return needs k + 1 bars. Every window uses the stock's rows up to and including t only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import History
from features.registry import feature
from market.load import LIMIT_TOLERANCE


@feature(lookback=6, family="price_volume", label="Return, last week")
def ret_5(h: History) -> pd.Series:
    """adj_close_t / adj_close_(t-5) - 1 (short-term reversal)."""
    return h.ret(5)


@feature(lookback=21, family="price_volume", label="Return, last month")
def ret_20(h: History) -> pd.Series:
    """adj_close_t / adj_close_(t-20) - 1 (one-month reversal)."""
    return h.ret(20)


@feature(lookback=61, family="price_volume", label="Return, last quarter")
def ret_60(h: History) -> pd.Series:
    """adj_close_t / adj_close_(t-60) - 1 (quarter return)."""
    return h.ret(60)


@feature(lookback=121, family="price_volume", label="Return, last half-year")
def ret_120(h: History) -> pd.Series:
    """adj_close_t / adj_close_(t-120) - 1 (half-year momentum)."""
    return h.ret(120)


@feature(lookback=251, family="price_volume", label="Return, last year")
def ret_250(h: History) -> pd.Series:
    """adj_close_t / adj_close_(t-250) - 1 (one-year momentum)."""
    return h.ret(250)


@feature(lookback=251, family="price_volume", label="Momentum, 12-1 months")
def mom_250_20(h: History) -> pd.Series:
    """adj_close_(t-20) / adj_close_(t-250) - 1 (12-1 momentum, skipping the reversal month)."""
    close = h.col("adj_close")
    return h.shift(close, 20) / h.shift(close, 250) - 1.0


@feature(lookback=21, family="price_volume", label="Volatility, last month")
def vol_20(h: History) -> pd.Series:
    """Sample std of daily returns over 20 sessions (short-term risk)."""
    return h.std(h.daily_return, 20)


@feature(lookback=61, family="price_volume", label="Volatility, last quarter")
def vol_60(h: History) -> pd.Series:
    """Sample std of daily returns over 60 sessions (risk)."""
    return h.std(h.daily_return, 60)


@feature(lookback=21, family="price_volume", label="Largest daily gain, last month")
def max_ret_20(h: History) -> pd.Series:
    """Largest daily return over 20 sessions (lottery demand)."""
    return h.max(h.daily_return, 20)


@feature(lookback=250, family="price_volume", label="Distance below 1-year high")
def dist_high_250(h: History) -> pd.Series:
    """adj_close / max(adj_high over 250 sessions) - 1, <= 0 (how far below its yearly high)."""
    return h.col("adj_close") / h.max(h.col("adj_high"), 250) - 1.0


@feature(lookback=250, family="price_volume", label="Distance above 1-year low")
def dist_low_250(h: History) -> pd.Series:
    """adj_close / min(adj_low over 250 sessions) - 1, >= 0 (how far off its yearly low)."""
    return h.col("adj_close") / h.min(h.col("adj_low"), 250) - 1.0


@feature(lookback=21, family="price_volume", label="Price-volume correlation, last month")
def pv_corr_20(h: History) -> pd.Series:
    """corr(daily return, turnover) over 20 sessions (buying on volume vs selling on volume)."""
    return h.corr(h.daily_return, h.turnover, 20)


@feature(lookback=21, family="price_volume", label="Up-day share of volume, last month")
def up_volume_share_20(h: History) -> pd.Series:
    """Turnover on up days / turnover on up or down days over 20 sessions; = u/(u+d), a bounded
    monotone form of the up/down volume ratio u/d (who is in control)."""
    r = h.daily_return
    up = h.sum(h.turnover.where(r > 0, 0.0).where(r.notna()), 20)
    down = h.sum(h.turnover.where(r < 0, 0.0).where(r.notna()), 20)
    total = up + down
    return up / total.where(total > 0)


@feature(lookback=60, family="price_volume", needs=("limits",), label="Limit-up closes, last quarter")
def limit_up_hits_60(h: History) -> pd.Series:
    """Sessions closing at the limit-up price over the last 60 (A-share attention bursts);
    NaN where the market has no price limits."""
    limit = h.col("limit_up")
    hit = (h.col("close") >= limit * (1 - LIMIT_TOLERANCE)).astype("float64").where(limit.notna())
    return h.sum(hit, 60)


@feature(lookback=61, family="price_volume", label="Volume spike on a quiet price")
def quiet_volume_spike_5_60(h: History) -> pd.Series:
    """log(mean turnover 5 / mean turnover 60) / (1 + |ret_5| / (vol_60 * sqrt 5)): abnormal
    volume on a quiet price (the high-volume return premium, Gervais-Kaniel-Mingelgrin 2001)."""
    ratio = h.mean(h.turnover, 5) / h.mean(h.turnover, 60)
    spike = np.log(ratio.where(ratio > 0))
    scale = h.std(h.daily_return, 60) * np.sqrt(5.0)
    return spike / (1.0 + h.ret(5).abs() / scale.where(scale > 0))


@feature(lookback=34, family="price_volume", label="Trend turn (MACD histogram)")
def macd_state(h: History) -> pd.Series:
    """m - mean(m, 9) with m = (SMA12 - SMA26) / SMA26 of adj_close: a MACD histogram with
    simple averages, so its look-back is finite (trend turning up or down)."""
    close = h.col("adj_close")
    slow = h.mean(close, 26)
    m = (h.mean(close, 12) - slow) / slow
    return m - h.mean(m, 9)
