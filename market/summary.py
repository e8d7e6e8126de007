"""Headline figures of a loaded market: coverage, boards, sizes, liquidity, ST, suspensions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from market.load import Market


def describe(market: Market) -> dict[str, str]:
    """Figures a person checks first, as display-ready text keyed by label."""
    sec, bars = market.securities, market.bars
    cal = market.calendar
    last = bars[bars["date"] == cal[-1]]
    caps = np.sort(last["market_cap"].to_numpy())
    per_day = bars.groupby("date").size()
    boards = sec["board"].fillna("?").value_counts()
    out = {
        "source": str(market.source),
        "tables": ", ".join(market.tables_found),
        "date range": f"{cal[0]:%Y-%m-%d} .. {cal[-1]:%Y-%m-%d} ({len(cal)} trading days)",
        "symbols": f"{len(sec)} ({', '.join(f'{b} {c}' for b, c in boards.items())})",
        "stock-days": f"{len(bars):,}",
        "stocks per day": f"median {per_day.median():.0f}, min {per_day.min()}, max {per_day.max()}",
        "delisted in range": str(int(sec["delist_date"].between(cal[0], cal[-1]).sum())),
        "market cap, last day": (f"400th smallest {caps[min(399, len(caps) - 1)] / 1e9:.2f}bn, "
                                 f"median {np.median(caps) / 1e9:.2f}bn") if len(caps) else "-",
        "turnover, median": f"{bars.loc[~bars['suspended'], 'turnover'].median():.2%} a day",
        "ST stock-days": f"{bars['st'].mean():.2%}",
        "zero-volume rows": f"{int(bars['suspended'].sum()):,}",
        "limit-locked rows": f"{int((bars['limit_up_locked'] | bars['limit_down_locked']).sum()):,}",
    }
    for name in ("fundamentals", "holders"):
        table: pd.DataFrame | None = getattr(market, name)
        out[name] = ("absent" if table is None else
                     f"{len(table):,} rows, {table['symbol'].nunique()} symbols, announced "
                     f"{table['announce_date'].min():%Y-%m-%d} .. {table['announce_date'].max():%Y-%m-%d}")
    return out
