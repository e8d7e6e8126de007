"""Turnover family: how much attention a stock gets, against its own norm and its peers.

turnover = volume / shares_float per session (0 on a zero-volume day). Windows count the
stock's own sessions and use rows up to and including t only.
"""

from __future__ import annotations

import pandas as pd

from features.cross_section import cross_section
from features.history import History
from features.registry import feature


@feature(lookback=5, family="turnover", label="Turnover, last week")
def turnover_5(h: History) -> pd.Series:
    """Mean turnover over 5 sessions (this week's attention)."""
    return h.mean(h.turnover, 5)


@feature(lookback=20, family="turnover", label="Turnover, last month")
def turnover_20(h: History) -> pd.Series:
    """Mean turnover over 20 sessions (this month's attention)."""
    return h.mean(h.turnover, 20)


@feature(lookback=60, family="turnover", label="Turnover, last quarter")
def turnover_60(h: History) -> pd.Series:
    """Mean turnover over 60 sessions (this quarter's attention)."""
    return h.mean(h.turnover, 60)


@feature(lookback=120, family="turnover", label="Turnover, last half-year")
def turnover_120(h: History) -> pd.Series:
    """Mean turnover over 120 sessions (the stock's attention norm)."""
    return h.mean(h.turnover, 120)


@feature(lookback=120, family="turnover", label="Turnover pick-up (month vs half-year)")
def abnormal_turnover_20_120(h: History) -> pd.Series:
    """mean(turnover, 20) / mean(turnover, 120) (attention picking up against its own norm)."""
    return h.mean(h.turnover, 20) / h.mean(h.turnover, 120)


@feature(lookback=60, family="turnover", label="Turnover burst (week vs quarter)")
def abnormal_turnover_5_60(h: History) -> pd.Series:
    """mean(turnover, 5) / mean(turnover, 60) (a fresh burst of attention)."""
    return h.mean(h.turnover, 5) / h.mean(h.turnover, 60)


@feature(lookback=60, family="turnover", label="Turnover trend, last quarter")
def turnover_trend_60(h: History) -> pd.Series:
    """OLS slope of turnover on session number over 60 sessions / mean turnover (creeping interest).

    slope = cov(i, x) / var(i), population moments, var(i) = (60^2 - 1) / 12 for consecutive
    sessions i.
    """
    i = h.series(h.session)
    cov = h.mean(i * h.turnover, 60) - h.mean(i, 60) * h.mean(h.turnover, 60)
    slope = cov / ((60**2 - 1) / 12)
    return slope / h.mean(h.turnover, 60)


@feature(lookback=60, family="turnover", label="Days without trading, last quarter")
def non_trading_share_60(h: History) -> pd.Series:
    """Share of market days without trading (zero-volume or missing row) in the span of the
    stock's last 60 sessions (neglect, and a liquidity trap)."""
    traded = h.sum(h.series(h.col("volume") > 0), 60)
    return 1.0 - traded / h.market_days_spanned(60)


@feature(lookback=21, family="turnover", scale_free=False, label="Illiquidity (Amihud), last month")
def amihud_20(h: History) -> pd.Series:
    """sum |daily return| / sum amount over 20 sessions, per million of currency (illiquidity)."""
    return h.sum(h.daily_return.abs(), 20) / h.sum(h.col("amount"), 20) * 1e6


@feature(lookback=20, family="turnover", label="Turnover burstiness, last month")
def turnover_cv_20(h: History) -> pd.Series:
    """std(turnover, 20) / mean(turnover, 20) (how bursty the attention is)."""
    return h.std(h.turnover, 20) / h.mean(h.turnover, 20)


@feature(lookback=41, family="turnover", needs=("universe",), label="Turnover rank change, last month")
def turnover_rank_change_21(h: History) -> pd.Series:
    """Percentile of turnover_20 within today's universe minus the same 21 market days ago
    (the market shifting its attention onto the stock)."""
    pct = turnover_20_percentile(h)
    return pct - h.lag_market_days(pct, 21)


def _turnover_20(h: History) -> pd.DataFrame:
    return pd.DataFrame({"turnover_20": h.mean(h.turnover, 20).to_numpy()})


def _percentile_in_universe(h: History, x: pd.DataFrame) -> pd.DataFrame:
    pct = h.universe_percentile(pd.Series(x["turnover_20"].to_numpy()))
    return pd.DataFrame({"turnover_20_percentile": pct.to_numpy()})


TURNOVER_PERCENTILE = cross_section(("turnover_20_percentile",), _turnover_20, _percentile_in_universe)


def turnover_20_percentile(h: History) -> pd.Series:
    """Percentile of turnover_20 within that day's universe (shared with the attention label)."""
    return TURNOVER_PERCENTILE.get(h, "turnover_20_percentile")
