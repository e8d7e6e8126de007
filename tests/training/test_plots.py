"""Evaluation figures: the right number of bars, lines and points; PNGs on disk; no data, no error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tests.helpers import texts
from tracking.figures import save_png
from training.plots import contributions_plot, importance_plot, quantile_cumulative_plot, rank_ic_plot

MONTHS = pd.date_range("2020-01-31", periods=15, freq="ME")


def test_rank_ic_plot_draws_a_bar_per_month_and_the_trailing_mean() -> None:
    ic = pd.Series(np.linspace(-0.1, 0.18, 15), index=MONTHS)
    ic.iloc[3] = np.nan
    fig = rank_ic_plot(ic, title="RankIC")
    (ax,) = fig.axes
    assert len(ax.patches) == 14 and len(ax.lines) == 2  # trailing mean + zero line
    trailing = ax.lines[0].get_ydata()
    assert np.isnan(trailing[:5]).all() and trailing[5] == pytest.approx(ic.dropna().iloc[:6].mean())
    assert f"mean {ic.mean():.3f}" in ax.get_title()


def test_quantile_cumulative_plot_compounds_each_quantile() -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(0, 0.02, (6, 5)), index=MONTHS[:6], columns=range(1, 6))
    table.iloc[2, 0] = np.nan
    (ax,) = quantile_cumulative_plot(table).axes
    assert len(ax.lines) == 6 and len(ax.get_legend().get_texts()) == 5
    np.testing.assert_allclose(ax.lines[4].get_ydata()[-1], (1 + table[5]).prod())
    np.testing.assert_allclose(ax.lines[0].get_ydata()[-1], (1 + table[1].fillna(0)).prod())
    assert not np.allclose(ax.lines[0].get_color(), ax.lines[4].get_color())


def test_importance_plot_puts_the_largest_on_top() -> None:
    gain = pd.Series(np.arange(30.0), index=[f"f{i}" for i in range(30)])
    gain["f0"] = np.nan
    (ax,) = importance_plot(gain, top=25).axes
    assert len(ax.patches) == 25
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "f29" and labels[0] == "f5"  # y grows upwards: the last tick is the top bar


def test_contributions_plot_orders_features_and_greys_missing_values() -> None:
    values = pd.DataFrame(np.random.default_rng(0).normal(size=(100, 8)), columns=[f"f{i}" for i in range(8)])
    contrib = pd.DataFrame(np.outer(np.linspace(-1, 1, 100), np.arange(1, 9)), columns=values.columns)  # f7 most
    values.iloc[:10, 7] = np.nan
    fig = contributions_plot(contrib, values.drop(columns="f6"), top=5)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the plot and its colour bar
    ticks = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())), reverse=True)
    assert [name for _, name in ticks] == ["f7", "f6", "f5", "f4", "f3"]
    grey, coloured = (len(c.get_offsets()) for c in ax.collections)
    assert (grey, coloured) == (10 + 100, 390)  # f7's NaN values and all of f6 (absent from values)


def test_contributions_plot_subsamples_large_inputs() -> None:
    frame = pd.DataFrame(np.random.default_rng(1).normal(size=(6_000, 2)), columns=["a", "b"])
    ax = contributions_plot(frame, frame).axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * 5_000
    with pytest.raises(ValueError):
        contributions_plot(frame, frame.iloc[:10])


def test_empty_input_gives_a_no_data_figure() -> None:
    figures = [rank_ic_plot(pd.Series(dtype=float)), rank_ic_plot(pd.Series([np.nan], index=MONTHS[:1])),
               quantile_cumulative_plot(pd.DataFrame(columns=range(1, 11), dtype=float)),
               importance_plot(pd.Series(dtype=float)),
               contributions_plot(pd.DataFrame(columns=["a"], dtype=float), pd.DataFrame(columns=["a"], dtype=float))]
    for fig in figures:
        assert isinstance(fig, Figure) and texts(fig) == ["no data"]


def test_save_png_writes_a_png(tmp_path) -> None:
    path = save_png(rank_ic_plot(pd.Series([0.1, -0.05, 0.2], index=MONTHS[:3])), tmp_path / "plots" / "ic.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    empty = save_png(importance_plot(pd.Series(dtype=float)), tmp_path / "empty.png")
    assert empty.read_bytes()[:4] == b"\x89PNG"
