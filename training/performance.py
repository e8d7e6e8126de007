"""Performance of a backtest against the universe's equal-weight benchmark, and its capacity.

Benchmark: each day, the equal-weighted close-to-close return (``adj_close``) of the stocks
in the universe of the latest signal date whose orders have started (the rows of
``predictions`` on that date); a stock without a bar that day counts as 0.

Statistics come from empyrical (annual return, volatility, Sharpe, max drawdown; the
information ratio is empyrical's per-day excess Sharpe against the benchmark x sqrt(252)).
Turnover is traded value / mean NAV per year; costs are per year as a share of mean NAV.

Capacity: the same backtest at each capital in ``capitals``; the annual excess return falls
as the participation cap leaves orders unfilled and impact grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import empyrical as ep
import numpy as np
import pandas as pd

from market.load import Market
from training.backtest import BacktestConfig, BacktestResult, day_grids, run_backtest

DAYS_A_YEAR = 252


def benchmark_returns(market: Market, predictions: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.Series:
    """Daily equal-weight return of the signal universe (see the module docstring) on ``dates``."""
    cal = market.calendar
    symbols = sorted(predictions["symbol"].astype(str).unique())
    close = day_grids(market, symbols, {"adj_close": np.nan})["adj_close"]
    returns = pd.DataFrame(close, index=cal, columns=symbols).pct_change(fill_method=None)
    out = pd.Series(0.0, index=dates)
    signals = sorted(pd.to_datetime(predictions["date"].unique()))
    starts = [cal[min(int(np.searchsorted(cal, d, side="right")), len(cal) - 1)] for d in signals]
    for i, (signal, start) in enumerate(zip(signals, starts)):
        end = starts[i + 1] if i + 1 < len(starts) else cal[-1] + pd.Timedelta(days=1)
        members = predictions.loc[pd.to_datetime(predictions["date"]) == signal, "symbol"].astype(str)
        members = [m for m in members if m in returns.columns]
        span = dates[(dates >= start) & (dates < end)]
        if members and len(span):
            out.loc[span] = returns.loc[span, members].fillna(0.0).mean(axis=1).to_numpy()
    return out


def summary(result: BacktestResult, benchmark: pd.Series, capital: float) -> dict[str, float]:
    daily = result.daily
    nav = pd.concat([pd.Series([capital]), daily["nav"].reset_index(drop=True)])
    returns = pd.Series(nav.pct_change().dropna().to_numpy(), index=daily.index)
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
        "excess_max_drawdown": float(ep.max_drawdown(excess)),
        "turnover": traded / mean_nav / years,
        "commission": float(daily["commission"].sum()) / mean_nav / years,
        "stamp_duty": float(daily["stamp_duty"].sum()) / mean_nav / years,
        "impact": float(daily["impact"].sum()) / mean_nav / years,
        "fill_ratio": float(result.rebalances["fill_ratio"].mean()),
        "years": years,
    }


def capacity(market: Market, predictions: pd.DataFrame, cfg: BacktestConfig,
             capitals: Sequence[float] = (1e7, 1e8, 1e9, 1e10)) -> pd.DataFrame:
    """Excess annual return, fill ratio and cost drag at each capital."""
    rows = []
    bench = None
    for capital in capitals:
        result = run_backtest(market, predictions, replace(cfg, capital=float(capital)))
        if bench is None:
            bench = benchmark_returns(market, predictions, result.daily.index)
        s = summary(result, bench, capital)
        rows.append({"capital": capital, "excess_annual_return": s["excess_annual_return"],
                     "annual_return": s["annual_return"], "fill_ratio": s["fill_ratio"],
                     "cost_drag": s["commission"] + s["stamp_duty"] + s["impact"]})
    return pd.DataFrame(rows).set_index("capital")
