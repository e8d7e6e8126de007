"""Backtest figures: NAV and its ratio, regimes shaded, capacity on log capital, no data, no error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.plots import amount, capacity_plot, crowding_plot, drawdown_plot, nav_plot
from tests.helpers import texts

DAYS = pd.bdate_range("2021-01-04", periods=8)
REGIME = pd.Series(["normal", "crowded", "crowded", "normal", "elevated", "elevated", "crowded", "unknown"],
                   index=DAYS)


def test_nav_plot_draws_growth_and_the_ratio() -> None:
    nav = pd.DataFrame({"strategy": np.linspace(0.99, 1.4, 8), "benchmark": np.linspace(1.01, 1.2, 8)}, index=DAYS)
    top, bottom = nav_plot(nav).axes
    np.testing.assert_allclose(top.lines[0].get_ydata(), nav["strategy"])  # as given: day 1's costs show
    np.testing.assert_allclose(bottom.lines[0].get_ydata()[-1], 1.4 / 1.2)
    assert top.get_yscale() == "log"


@pytest.mark.parametrize(("low", "high"), [(0.85, 1.4), (0.5, 1.2), (1.0, 8.0)])
def test_nav_plot_labels_at_least_three_values_of_its_log_axis(low: float, high: float) -> None:
    nav = pd.DataFrame({"strategy": np.geomspace(low, high, 8), "benchmark": 1.0}, index=DAYS)
    top, _ = nav_plot(nav).axes
    top.figure.canvas.draw()
    bottom, up = top.get_ylim()
    shown = [t.get_text() for t in top.get_yticklabels() + top.get_yticklabels(minor=True)
             if t.get_text() and bottom <= t.get_position()[1] <= up]
    assert len(shown) >= 3, shown


def test_amounts_read_in_short_words_with_two_figures_under_ten_million() -> None:
    assert [amount(v) for v in (5e4, 1e6, 1.12e6, 1.18e6, 1e7, 5.62e8, 1.03e9)] == \
        ["50,000", "1 m", "1.1 m", "1.2 m", "10 m", "562 m", "1.0 bn"]


def test_drawdown_and_crowding_plots_shade_each_crowded_or_elevated_run() -> None:
    dd = pd.DataFrame({"strategy": -np.linspace(0, 0.3, 8), "excess": -np.linspace(0, 0.1, 8)}, index=DAYS)
    (ax,) = drawdown_plot(dd, REGIME).axes
    assert len(ax.patches) == 3 and len(ax.lines) == 3  # crowded x2 + elevated; two lines + zero
    assert "worst -30.0%" in ax.get_legend().get_texts()[0].get_text()
    crowd = pd.DataFrame({"turnover_share": 0.05, "bp_spread": 0.1, "regime": REGIME}, index=DAYS)
    axes = crowding_plot(crowd, dd).axes
    assert len(axes) == 3 and all(len(a.patches) == 3 for a in axes) and len(axes[2].lines) == 2


def test_capacity_plot_draws_return_and_fill_on_log_capital() -> None:
    curve = pd.DataFrame({"excess_annual_return": [0.2, 0.1], "fill_ratio": [0.9, 0.4]}, index=[1e7, 1e9])
    ax, twin = capacity_plot(curve, currency="USD").axes
    assert ax.get_xscale() == "log" and list(twin.lines[0].get_ydata()) == [0.9, 0.4]
    assert ax.get_xlabel() == "starting capital (USD, log scale)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10 m", "1.0 bn"]  # ticks at the capitals run


@pytest.mark.parametrize("draw", [
    lambda: nav_plot(pd.DataFrame()), lambda: drawdown_plot(pd.DataFrame()),
    lambda: capacity_plot(pd.DataFrame()), lambda: crowding_plot(pd.DataFrame(), pd.DataFrame({"a": [np.nan]})),
])
def test_backtest_figures_say_no_data_when_empty(draw) -> None:
    assert "no data" in texts(draw())
