"""Performance figures: the benchmark follows the signal universe, statistics are empyrical's,
and capacity shows fills falling with capital."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.engine import BacktestConfig, run_backtest
from backtest.performance import (
    benchmark_returns,
    by_regime,
    capacity,
    capacity_limits,
    drawdown,
    drawdown_episodes,
    summary,
)
from tests.helpers import DAYS, FREE, market, signal


def test_the_benchmark_is_the_equal_weight_return_of_the_signal_universe(tmp_path: Path) -> None:
    m = market(tmp_path, {("AAA", i): {"open": 10.0 * 1.01 ** (i - 24), "close": 10.0 * 1.01 ** (i - 24),
                                       "high": 12.0, "low": 8.0, "limit_up": 13.0, "limit_down": 7.0}
                          for i in range(25, 40)})
    bench = benchmark_returns(m, signal(24, "AAA"), pd.DatetimeIndex(DAYS[25:40]))
    np.testing.assert_allclose(bench.iloc[1:], 0.005, rtol=1e-9)  # AAA +1% a day, BBB flat: (1% + 0%) / 2


def test_summary_holds_returns_costs_and_fills(tmp_path: Path) -> None:
    cfg = BacktestConfig(capital=100_000.0, **(FREE | {"commission": 0.001}))
    result = run_backtest(market(tmp_path), signal(22, "AAA"), cfg)
    s = summary(result, pd.Series(0.0, index=result.daily.index), 100_000.0)
    assert s["annual_return"] < 0 and s["commission"] > 0
    assert s["fill_ratio"] == pytest.approx(1 / 1.001)  # the commission is paid out of the order
    assert s["max_drawdown"] == pytest.approx(-0.001 / 1.001, rel=1e-6)  # only the commission was lost


def test_capacity_fills_less_as_capital_grows(tmp_path: Path) -> None:
    cfg = BacktestConfig(**(FREE | {"participation": 0.1}))
    curve = capacity(market(tmp_path), pd.concat([signal(22, "AAA"), signal(30, "BBB")]), cfg,
                     capitals=(1e4, 1e6, 1e8))
    assert list(curve.index) == [1e4, 1e6, 1e8]
    assert curve["fill_ratio"].iloc[0] == pytest.approx(1.0) and curve["fill_ratio"].is_monotonic_decreasing
    assert curve["fill_ratio"].iloc[-1] < 0.1


def test_drawdown_episodes_name_peak_trough_and_recovery() -> None:
    days = pd.bdate_range("2021-01-04", periods=9)
    wealth = pd.Series([1.0, 1.1, 0.99, 0.88, 1.1, 1.2, 1.08, 1.14, 1.15], index=days)
    np.testing.assert_allclose(drawdown(wealth), [0, 0, -0.1, -0.2, 0, 0, -0.1, -0.05, -1 / 24])
    table = drawdown_episodes(wealth)
    assert list(table["peak"]) == [days[1], days[5]] and list(table["trough"]) == [days[3], days[6]]
    assert table["recovery"].iloc[0] == days[4] and pd.isna(table["recovery"].iloc[1])  # not yet back
    np.testing.assert_allclose(table["depth"], [-0.2, -0.1])
    assert list(table["days_to_trough"]) == [2, 1]
    assert len(drawdown_episodes(wealth, top=1)) == 1
    assert drawdown_episodes(pd.Series([1.0, 1.1], index=days[:2])).empty


def test_capacity_limits_interpolate_on_log_capital() -> None:
    curve = pd.DataFrame({"excess_annual_return": [0.2, 0.1, -0.1]}, index=[1e7, 1e8, 1e9])
    limits = capacity_limits(curve)
    assert limits["half"] == pytest.approx(1e8) and limits["zero"] == pytest.approx(10 ** 8.5)
    assert np.isnan(capacity_limits(curve.iloc[:2])["zero"])  # still positive at the largest capital


def test_excess_return_by_regime() -> None:
    days = pd.bdate_range("2021-01-04", periods=4)
    returns = pd.Series([0.02, -0.01, 0.01, 0.0], index=days)
    bench = pd.Series([0.01, 0.01, 0.0, 0.0], index=days)
    # the regime known at each close labels the next day's return; day 0 has none before it
    regime = pd.Series(["crowded", "crowded", "normal"], index=days[:3])
    table = by_regime(returns, bench, regime, min_days=1)
    assert table.loc["crowded", "days"] == 2 and table.loc["crowded", "excess_annualised"] == pytest.approx(-1.26)
    assert table.loc["crowded", "beat"] == 0.5 and table.loc["normal", "excess_annualised"] == pytest.approx(0.0)
    assert table.loc["unknown", "days"] == 1 and table.loc["unknown", "share_of_days"] == 0.25


def test_a_regime_of_a_few_days_gets_no_annualised_figure() -> None:
    days = pd.bdate_range("2021-01-04", periods=41)
    returns, bench = pd.Series(0.001, index=days), pd.Series(0.0, index=days)
    regime = pd.Series(["normal"] * 40 + ["crowded"], index=days).shift(-1).fillna("crowded")
    table = by_regime(returns, bench, regime)  # day 0 is "unknown": one day
    assert table.loc["unknown", "days"] == 1 and np.isnan(table.loc["unknown", "excess_annualised"])
    assert table.loc["normal", "excess_annualised"] == pytest.approx(0.252)


def test_capacity_reuses_the_run_at_the_configured_capital(tmp_path: Path) -> None:
    cfg = BacktestConfig(capital=1e6, **(FREE | {"participation": 0.1}))
    m, preds = market(tmp_path), signal(22, "AAA")
    known = run_backtest(m, preds, cfg)
    forged = replace(known, rebalances=known.rebalances.assign(fill_ratio=0.123))
    curve = capacity(m, preds, cfg, capitals=(1e4, 1e6), known=forged)
    assert curve.loc[1e6, "fill_ratio"] == 0.123 and curve.loc[1e4, "fill_ratio"] == pytest.approx(1.0)
