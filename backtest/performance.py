"""Performance of a backtest against the universe's equal-weight benchmark, and its capacity.

Benchmark: each day, the equal-weighted close-to-close return (``adj_close``) of the stocks
in the universe of the latest signal date whose orders have started (the rows of
``predictions`` on that date); a stock without a bar that day counts as 0.

Statistics come from empyrical (annual return, volatility, Sharpe, max drawdown; the
information ratio is empyrical's per-day excess Sharpe against the benchmark x sqrt(252)).
Turnover is traded value / mean NAV per year; costs are per year as a share of mean NAV.

Capacity: the same backtest at each capital in ``capitals``; the annual excess return falls
as the participation cap leaves orders unfilled and impact grows.

Drawdowns: the strategy's from its NAV; the excess drawdown from the relative NAV (strategy
growth / benchmark growth; ``excess_max_drawdown`` is empyrical's max drawdown of its daily
returns), whose worst episodes :func:`drawdown_episodes` lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import empyrical as ep
import numpy as np
import pandas as pd

from backtest.engine import BacktestConfig, BacktestResult, day_grids, run_backtest
from market.load import Market

DAYS_A_YEAR = 252
MIN_REGIME_DAYS = 20  # fewer days in a regime: no annualised figure


def benchmark_returns(market: Market, predictions: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.Series:
    """Daily equal-weight return of the signal universe (see the module docstring) on ``dates``."""
    cal = market.calendar
    symbols = sorted(predictions["symbol"].astype(str).unique())
    close = day_grids(market, symbols, {"adj_close": np.nan})["adj_close"]
    returns = pd.DataFrame(close, index=cal, columns=symbols).pct_change(fill_method=None)
    out = pd.Series(0.0, index=dates)
    signals = sorted(pd.to_datetime(predictions["date"].unique()))
    starts = [cal[min(int(np.searchsorted(cal, d, side="right")), len(cal) - 1)] for d in signals]
    for i, (signal, start) in enumerate(zip(signals, starts, strict=False)):
        end = starts[i + 1] if i + 1 < len(starts) else cal[-1] + pd.Timedelta(days=1)
        members = predictions.loc[pd.to_datetime(predictions["date"]) == signal, "symbol"].astype(str)
        members = [m for m in members if m in returns.columns]
        span = dates[(dates >= start) & (dates < end)]
        if members and len(span):
            out.loc[span] = returns.loc[span, members].fillna(0.0).mean(axis=1).to_numpy()
    return out


def summary(result: BacktestResult, benchmark: pd.Series, capital: float) -> dict[str, float]:
    """The run's statistics against ``benchmark`` (see the module docstring), as one flat dict."""
    daily = result.daily
    returns = strategy_returns(result, capital)
    bench = benchmark.reindex(daily.index).fillna(0.0)
    excess = returns - bench
    years = len(daily) / DAYS_A_YEAR
    mean_nav = float(daily["nav"].mean())
    traded = float((daily["bought"] + daily["sold"]).sum())
    return {
        "annual_return": float(ep.annual_return(returns)),
        "benchmark_annual_return": float(ep.annual_return(bench)),
        "excess_annual_return": float(ep.annual_return(returns) - ep.annual_return(bench)),
        "annual_volatility": float(ep.annual_volatility(returns)),
        "sharpe": float(ep.sharpe_ratio(returns)),
        "information_ratio": float(ep.excess_sharpe(returns, bench) * np.sqrt(DAYS_A_YEAR)),
        "tracking_error": float(excess.std() * np.sqrt(DAYS_A_YEAR)),
        "max_drawdown": float(ep.max_drawdown(returns)),
        "excess_max_drawdown": float(ep.max_drawdown(relative_returns(returns, bench))),
        "turnover": traded / mean_nav / years,
        "commission": float(daily["commission"].sum()) / mean_nav / years,
        "stamp_duty": float(daily["stamp_duty"].sum()) / mean_nav / years,
        "impact": float(daily["impact"].sum()) / mean_nav / years,
        "fill_ratio": float(result.rebalances["fill_ratio"].mean()),
        "years": years,
    }


def capacity(market: Market, predictions: pd.DataFrame, cfg: BacktestConfig,
             capitals: Sequence[float] = (1e7, 1e8, 1e9, 1e10), known: BacktestResult | None = None,
             benchmark: pd.Series | None = None) -> pd.DataFrame:
    """Excess annual return, fill ratio and cost drag at each capital (``known``: the result
    already run with ``cfg``, reused at ``cfg.capital``; ``benchmark``: its benchmark returns)."""
    rows = []
    bench = benchmark
    for capital in capitals:
        if known is not None and float(capital) == cfg.capital:
            result = known
        else:
            result = run_backtest(market, predictions, cfg.model_copy(update={"capital": float(capital)}))
        if bench is None:
            bench = benchmark_returns(market, predictions, result.daily.index)
        s = summary(result, bench, capital)
        rows.append({"capital": capital, "excess_annual_return": s["excess_annual_return"],
                     "annual_return": s["annual_return"], "fill_ratio": s["fill_ratio"],
                     "cost_drag": s["commission"] + s["stamp_duty"] + s["impact"]})
    return pd.DataFrame(rows).set_index("capital")


def relative_returns(returns: pd.Series, benchmark: pd.Series) -> pd.Series:
    """Daily returns of strategy growth / benchmark growth: (1 + r) / (1 + b) - 1."""
    return (1.0 + returns) / (1.0 + benchmark.reindex(returns.index).fillna(0.0)) - 1.0


def growth(result: BacktestResult, benchmark: pd.Series, capital: float) -> pd.DataFrame:
    """Growth of 1 of the strategy (NAV / capital) and of the benchmark, and their ratio."""
    strategy = result.daily["nav"] / capital
    bench = (1.0 + benchmark.reindex(strategy.index).fillna(0.0)).cumprod()
    return pd.DataFrame({"strategy": strategy, "benchmark": bench, "relative": strategy / bench})


def drawdown(wealth: pd.Series) -> pd.Series:
    """wealth / running maximum - 1 (the running maximum starts at 1, the starting wealth)."""
    peak = np.maximum.accumulate(np.maximum(wealth.to_numpy(float), 1.0))
    return pd.Series(wealth.to_numpy(float) / peak - 1.0, index=wealth.index)


def drawdown_episodes(wealth: pd.Series, top: int = 5) -> pd.DataFrame:
    """The ``top`` deepest drawdowns of ``wealth``: peak (last day at the high before it),
    trough, recovery (first day back at the peak; NaT if not yet), depth and trading days from
    peak to trough."""
    dd = drawdown(wealth)
    under = dd.to_numpy() < 0
    rows = []
    edges = np.flatnonzero(np.diff(np.r_[False, under, False].astype(int)))
    for begin, end in zip(edges[::2], edges[1::2], strict=False):  # [begin, end) under water
        trough = begin + int(np.argmin(dd.to_numpy()[begin:end]))
        rows.append({"peak": dd.index[begin - 1] if begin else pd.NaT, "trough": dd.index[trough],
                     "recovery": dd.index[end] if end < len(dd) else pd.NaT, "depth": float(dd.iloc[trough]),
                     "days_to_trough": trough - begin + 1})
    table = pd.DataFrame(rows, columns=["peak", "trough", "recovery", "depth", "days_to_trough"])
    return table.sort_values("depth", kind="stable").head(top).reset_index(drop=True)


def by_regime(returns: pd.Series, benchmark: pd.Series, regime: pd.Series,
              min_days: int = MIN_REGIME_DAYS) -> pd.DataFrame:
    """Per crowding regime known before the day traded (``regime`` of the previous trading
    day, so a day's own turnover never labels its return): trading days, their share, the mean
    daily excess return annualised (x 252; NaN for a regime of fewer than ``min_days`` days,
    e.g. the first day's ``unknown``, where one day times 252 means nothing), and the share of
    days the strategy beat the benchmark."""
    excess = returns - benchmark.reindex(returns.index).fillna(0.0)
    labels = regime.reindex(returns.index).shift(1).astype(object).fillna("unknown").astype(str)
    frame = pd.DataFrame({"excess": excess, "regime": labels})
    table = frame.groupby("regime")["excess"].agg(days="size", mean="mean", beat=lambda x: float((x > 0).mean()))
    table["share_of_days"] = table["days"] / len(frame)
    table["excess_annualised"] = (table.pop("mean") * DAYS_A_YEAR).where(table["days"] >= min_days)
    return table[["days", "share_of_days", "excess_annualised", "beat"]]


def strategy_returns(result: BacktestResult, capital: float) -> pd.Series:
    """Daily NAV returns, the first day against the starting capital."""
    nav = result.daily["nav"]
    return pd.Series(np.diff(np.r_[capital, nav.to_numpy()]) / np.r_[capital, nav.to_numpy()[:-1]], index=nav.index)


def capacity_limits(curve: pd.DataFrame) -> dict[str, float]:
    """Capitals (log-linear interpolation on the curve) where the excess annual return falls to
    half its value at the smallest capital (``half``) and to zero (``zero``); NaN when the
    curve stays above that level (or starts at or below zero)."""
    x = np.log10(curve.index.to_numpy(float))
    y = curve["excess_annual_return"].to_numpy(float)
    out = {}
    for name, level in (("half", y[0] / 2), ("zero", 0.0)):
        value = np.nan
        if y[0] > 0:
            for i in range(1, len(y)):
                if y[i] <= level:
                    value = 10 ** (x[i - 1] + (x[i] - x[i - 1]) * (y[i - 1] - level) / (y[i - 1] - y[i]))
                    break
        out[name] = float(value)
    return out
