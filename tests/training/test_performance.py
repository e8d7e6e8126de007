"""Performance figures: the benchmark follows the signal universe, statistics are empyrical's,
and capacity shows fills falling with capital."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.training.test_backtest import DAYS, FREE, market, signal
from training.backtest import BacktestConfig, run_backtest
from training.performance import benchmark_returns, capacity, summary


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
