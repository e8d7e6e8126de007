"""Evaluation figures of a training run (RankIC by month, quantile returns, feature importance,
score contributions), as ``matplotlib.figure.Figure`` objects.

Every function tolerates NaN and draws a readable "no data" figure for empty input instead of
raising; :func:`tracking.figures.save_png` writes one to disk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from tracking.figures import figure, no_data

__all__ = ["contributions_plot", "importance_plot", "quantile_cumulative_plot", "rank_ic_plot"]

MAX_POINTS = 5_000


def rank_ic_plot(rank_ic: pd.Series, title: str = "RankIC by month") -> Figure:
    """Bars of each date's RankIC (green > 0, red otherwise), the trailing 12-month mean (NaN until
    6 months exist), a zero line; the mean over dates in the title. NaN dates are dropped."""
    ic = rank_ic.dropna().sort_index()
    fig, ax = figure(9, 4)
    if ic.empty:
        return no_data(fig, ax, title)
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
    fig, ax = figure(9, 4.5)
    if table.empty or table.shape[1] == 0:
        return no_data(fig, ax, title)
    colors = colormaps["viridis"](np.linspace(0.0, 1.0, table.shape[1]))
    for color, (name, column) in zip(colors, table.items(), strict=False):
        ax.plot(table.index, (1.0 + column.fillna(0.0)).cumprod().to_numpy(), color=color, label=f"Q{name}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_title(title)
    ax.set_ylabel("growth of 1 (monthly excess returns)")
    ax.legend(ncols=2, fontsize="small", title="quantile (high = top score)")
    return fig


def importance_plot(gain: pd.Series, top: int = 25, title: str = "Feature importance (gain)") -> Figure:
    """Horizontal bars of the ``top`` largest importances (NaN dropped), largest on top."""
    bars = gain.dropna().sort_values(ascending=False).head(top).iloc[::-1]
    fig, ax = figure(7, 0.3 * max(len(bars), 3) + 1.2)
    if bars.empty:
        return no_data(fig, ax, title)
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
    fig, ax = figure(8, 0.35 * max(len(order), 3) + 1.5)
    if contrib.empty or not order:
        return no_data(fig, ax, title)
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
