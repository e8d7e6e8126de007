"""Evaluation figures as ``matplotlib.figure.Figure`` objects.

No pyplot: nothing global is created or selected, no display is needed, and a figure is
garbage once dropped. Every function tolerates NaN and draws a readable "no data" figure for
empty input instead of raising; :func:`save_png` writes a figure to disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

__all__ = ["capacity_plot", "contributions_plot", "crowding_plot", "drawdown_plot", "importance_plot", "nav_plot",
           "quantile_cumulative_plot", "rank_ic_plot", "save_png"]

DPI = 110
MAX_POINTS = 5_000
REGIME_COLORS = {"crowded": "tab:red", "elevated": "tab:orange"}


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _no_data(fig: Figure, ax: Axes, title: str) -> Figure:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, fontsize=14)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (dpi 110), creating parent folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def rank_ic_plot(rank_ic: pd.Series, title: str = "RankIC by month") -> Figure:
    """Bars of each date's RankIC (green > 0, red otherwise), the trailing 12-month mean (NaN until
    6 months exist), a zero line; the mean over dates in the title. NaN dates are dropped."""
    ic = rank_ic.dropna().sort_index()
    fig, ax = _figure(9, 4)
    if ic.empty:
        return _no_data(fig, ax, title)
    width = 20 if isinstance(ic.index, pd.DatetimeIndex) else 0.8
    ax.bar(ic.index, ic.to_numpy(), width=width, color=np.where(ic > 0, "tab:green", "tab:red"), alpha=0.6,
           label="RankIC")
    ax.plot(ic.index, ic.rolling(12, min_periods=6).mean().to_numpy(), color="black", label="trailing 12-month mean")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_title(f"{title} (mean {ic.mean():.3f} over {len(ic)} months)")
    ax.set_ylabel("RankIC")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def quantile_cumulative_plot(quantiles: pd.DataFrame,
                             title: str = "Cumulative excess return by score quantile") -> Figure:
    """One line per quantile column: cumulative product over dates of (1 + mean excess return);
    a NaN month counts as 0 (flat). Colours run from the lowest to the highest score quantile."""
    table = quantiles.dropna(how="all").sort_index()
    fig, ax = _figure(9, 4.5)
    if table.empty or table.shape[1] == 0:
        return _no_data(fig, ax, title)
    colors = colormaps["viridis"](np.linspace(0.0, 1.0, table.shape[1]))
    for color, (name, column) in zip(colors, table.items()):
        ax.plot(table.index, (1.0 + column.fillna(0.0)).cumprod().to_numpy(), color=color, label=f"Q{name}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_title(title)
    ax.set_ylabel("growth of 1 (monthly excess returns)")
    ax.legend(ncols=2, fontsize="small", title="quantile (high = top score)")
    return fig


def importance_plot(gain: pd.Series, top: int = 25, title: str = "Feature importance (gain)") -> Figure:
    """Horizontal bars of the ``top`` largest importances (NaN dropped), largest on top."""
    bars = gain.dropna().sort_values(ascending=False).head(top).iloc[::-1]
    fig, ax = _figure(7, 0.3 * max(len(bars), 3) + 1.2)
    if bars.empty:
        return _no_data(fig, ax, title)
    ax.barh(np.arange(len(bars)), bars.to_numpy(), color="tab:blue")
    ax.set_yticks(np.arange(len(bars)), [str(name) for name in bars.index])
    ax.set_title(title)
    ax.set_xlabel("gain")
    return fig


def contributions_plot(contrib: pd.DataFrame, values: pd.DataFrame, top: int = 20,
                       title: str = "Feature contributions (SHAP-style)") -> Figure:
    """SHAP-style summary of LightGBM ``pred_contrib`` output (rows x features, no bias column).

    The ``top`` features by mean |contribution| over all rows, largest on top; each row is a point
    at its contribution, vertically jittered, coloured by the per-column rank of the feature's value
    in ``values`` (same rows, same order; blue low, red high, NaN or missing column grey). At most
    5,000 rows are drawn, sampled with rng seed 0.
    """
    if len(values) != len(contrib):
        raise ValueError(f"contrib has {len(contrib)} rows, values {len(values)}")
    order = list(contrib.abs().mean().dropna().sort_values(ascending=False).head(top).index)
    fig, ax = _figure(8, 0.35 * max(len(order), 3) + 1.5)
    if contrib.empty or not order:
        return _no_data(fig, ax, title)
    rng = np.random.default_rng(0)
    if len(contrib) > MAX_POINTS:
        keep = np.sort(rng.choice(len(contrib), MAX_POINTS, replace=False))
        contrib, values = contrib.iloc[keep], values.iloc[keep]
    x = np.concatenate([contrib[name].to_numpy(float) for name in order])
    y = np.repeat(np.arange(len(order))[::-1], len(contrib)) + rng.uniform(-0.3, 0.3, len(x))
    rank = [values[name].rank(pct=True).to_numpy(float) if name in values else np.full(len(values), np.nan)
            for name in order]
    color = np.concatenate(rank)
    grey = np.isnan(color)
    ax.scatter(x[grey], y[grey], s=4, color="lightgrey", label="value missing")
    ax.scatter(x[~grey], y[~grey], s=4, c=color[~grey], cmap="coolwarm", vmin=0.0, vmax=1.0)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_yticks(np.arange(len(order))[::-1], [str(name) for name in order])
    ax.set_xlabel("contribution to the score")
    ax.set_title(title)
    fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap="coolwarm"), ax=ax, label="value rank (low to high)")
    return fig


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
        return _no_data(fig, top, title)
    growth = table
    for name, column in growth.items():
        top.plot(column.index, column.to_numpy(), label=str(name))
    top.set_yscale("log")
    top.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    top.yaxis.set_minor_formatter(lambda v, _: f"{v:g}")
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
    fig, ax = _figure(10, 4)
    table = drawdown.dropna(how="all")
    if table.empty:
        return _no_data(fig, ax, title)
    _shade_regimes(ax, None if regime is None else regime.reindex(table.index))
    for name, column in table.items():
        ax.plot(column.index, column.to_numpy(), label=f"{name} (worst {column.min():.1%})")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def capacity_plot(curve: pd.DataFrame, title: str = "Capacity: excess return against capital") -> Figure:
    """``excess_annual_return`` against capital (the index, log scale) and ``fill_ratio`` on a
    second axis."""
    fig, ax = _figure(8, 4.5)
    table = curve.dropna(how="all")
    if table.empty:
        return _no_data(fig, ax, title)
    x = table.index.to_numpy(float)
    ax.plot(x, table["excess_annual_return"].to_numpy(), marker="o", color="tab:blue", label="excess annual return")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("starting capital")
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
        return _no_data(fig, axes[0], title)
    crowd = crowd.loc[span[0]:span[-1]]
    regime = crowd["regime"] if "regime" in crowd else None
    panels = [(crowd[["turnover_share"]], "micro-cap share of\nmarket turnover (20d)", "{:.1%}"),
              (crowd[["bp_spread"]], "valuation spread\n(median B/P micro - all)", "{:.2f}"),
              (drawdowns.loc[span[0]:span[-1]], "drawdown", "{:.0%}")]
    for ax, (table, label, fmt) in zip(axes, panels):
        _shade_regimes(ax, regime)
        for color, (name, series) in zip(("black", "tab:blue"), table.items()):
            ax.plot(series.index, series.to_numpy(), color=color, linewidth=1, label=str(name))
        ax.set_ylabel(label)
        ax.yaxis.set_major_formatter(lambda v, _, f=fmt: f.format(v))
    if drawdowns.shape[1] > 1:
        axes[2].legend(loc="lower left", fontsize="small")
    axes[0].set_title(title + " (shaded: crowded red, elevated orange)")
    return fig
