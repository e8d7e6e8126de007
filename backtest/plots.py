"""Backtest figures (NAV, drawdowns with the crowding regime shaded, capacity, crowding gauges),
as ``matplotlib.figure.Figure`` objects.

Every function tolerates NaN and draws a readable "no data" figure for empty input instead of
raising.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from tracking.figures import figure, no_data

__all__ = ["amount", "capacity_plot", "crowding_plot", "drawdown_plot", "nav_plot"]

REGIME_COLORS = {"crowded": "tab:red", "elevated": "tab:orange"}


def amount(v: float) -> str:
    """A money amount in short words, without its currency: 1.03e9 -> '1.0 bn', 3.2e8 -> '320 m',
    1.2e6 -> '1.2 m' (two figures under 10 m, so that 1.2 m and 1.4 m differ), 5e4 -> '50,000'."""
    if v >= 1e9:
        return f"{v / 1e9:,.1f} bn"
    if v >= 1e7:
        return f"{v / 1e6:,.0f} m"
    if v >= 1e6:
        return f"{v / 1e6:.1f}".removesuffix(".0") + " m"
    return f"{v:,.0f}"


def _shade_regimes(ax: Axes, regime: pd.Series | None) -> None:
    """Shade each run of consecutive ``crowded`` / ``elevated`` days of ``regime`` (date index)."""
    if regime is None or regime.empty:
        return
    labels = regime.astype(str).to_numpy()
    dates = regime.index
    edges = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    for i, start in enumerate(edges):
        end = edges[i + 1] if i + 1 < len(edges) else len(labels) - 1
        color = REGIME_COLORS.get(labels[start])
        if color is not None:
            ax.axvspan(dates[start], dates[end], color=color, alpha=0.15, linewidth=0)


def nav_plot(nav: pd.DataFrame, title: str = "NAV against the benchmark") -> Figure:
    """Every column of ``nav`` (date index; growth of 1, drawn as given) on a log scale, and
    their ratio (first column / second) on a second panel."""
    fig = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    table = nav.dropna(how="all")
    if table.empty or table.shape[1] < 2:
        return no_data(fig, top, title)
    growth = table
    for name, column in growth.items():
        top.plot(column.index, column.to_numpy(), label=str(name))
    top.set_yscale("log")
    top.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    top.yaxis.set_minor_formatter(lambda v, _: f"{v:g}")
    low, high = top.get_ylim()
    if high < 3 * low:  # log ticks (1, 2, 3, ...) would label one or two values: plain ones instead
        top.yaxis.set_major_locator(MaxNLocator(6))
        top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel("growth of 1 (log)")
    top.set_title(title)
    top.legend(loc="upper left", fontsize="small")
    ratio = growth.iloc[:, 0] / growth.iloc[:, 1]
    bottom.plot(ratio.index, ratio.to_numpy(), color="black")
    bottom.axhline(1.0, color="grey", linewidth=0.8)
    bottom.set_ylabel(f"{growth.columns[0]} / {growth.columns[1]}")
    return fig


def drawdown_plot(drawdown: pd.DataFrame, regime: pd.Series | None = None,
                  title: str = "Drawdowns (shaded: crowded red, elevated orange)") -> Figure:
    """Each column of ``drawdown`` (date index, values <= 0) as a filled line; crowding regimes shaded."""
    fig, ax = figure(10, 4)
    table = drawdown.dropna(how="all")
    if table.empty:
        return no_data(fig, ax, title)
    _shade_regimes(ax, None if regime is None else regime.reindex(table.index))
    for name, column in table.items():
        ax.plot(column.index, column.to_numpy(), label=f"{name} (worst {column.min():.1%})")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def capacity_plot(curve: pd.DataFrame, title: str = "Capacity: excess return against capital",
                  currency: str = "CNY") -> Figure:
    """``excess_annual_return`` against capital (the index, in ``currency``, log scale, ticks at
    the capitals run) and ``fill_ratio`` on a second axis."""
    fig, ax = figure(8, 4.5)
    table = curve.dropna(how="all")
    if table.empty:
        return no_data(fig, ax, title)
    x = table.index.to_numpy(float)
    ax.plot(x, table["excess_annual_return"].to_numpy(), marker="o", color="tab:blue", label="excess annual return")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xticks(x, [amount(v) for v in x], minor=False)
    ax.xaxis.set_minor_formatter("")
    ax.set_xlabel(f"starting capital ({currency}, log scale)")
    ax.set_ylabel("excess annual return", color="tab:blue")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    twin = ax.twinx()
    twin.plot(x, table["fill_ratio"].to_numpy(), marker="s", linestyle="--", color="tab:green", label="fill ratio")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("average fill ratio", color="tab:green")
    ax.set_title(title)
    return fig


def crowding_plot(crowd: pd.DataFrame, drawdowns: pd.DataFrame,
                  title: str = "Crowding gauges against the strategy's drawdowns") -> Figure:
    """Three panels sharing dates: micro-cap turnover share, valuation spread (B/P of micro-caps
    minus the market's) and each column of ``drawdowns``; crowding regimes shaded on each."""
    fig = Figure(figsize=(10, 8), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    span = drawdowns.dropna(how="all").index
    if span.empty or crowd.empty:
        return no_data(fig, axes[0], title)
    crowd = crowd.loc[span[0]:span[-1]]
    regime = crowd["regime"] if "regime" in crowd else None
    panels = [(crowd[["turnover_share"]], "micro-cap share of\nmarket turnover (20d)", "{:.1%}"),
              (crowd[["bp_spread"]], "valuation spread\n(median B/P micro - all)", "{:.2f}"),
              (drawdowns.loc[span[0]:span[-1]], "drawdown", "{:.0%}")]
    for ax, (table, label, fmt) in zip(axes, panels, strict=False):
        _shade_regimes(ax, regime)
        for color, (name, series) in zip(("black", "tab:blue"), table.items(), strict=False):
            ax.plot(series.index, series.to_numpy(), color=color, linewidth=1, label=str(name))
        ax.set_ylabel(label)
        ax.yaxis.set_major_formatter(lambda v, _, f=fmt: f.format(v))
    if drawdowns.shape[1] > 1:
        axes[2].legend(loc="lower left", fontsize="small")
    axes[0].set_title(title + " (shaded: crowded red, elevated orange)")
    return fig
