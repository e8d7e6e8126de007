"""The panel: dates, restricted builds equal to a full build, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import PanelError, build_panel, panel_dates, registered, write_panel
from market.load import Market
from tests.helpers import SIM_UNIVERSE


def test_monthly_dates_are_each_months_last_trading_day() -> None:
    cal = pd.DatetimeIndex(pd.to_datetime(["2021-01-28", "2021-01-29", "2021-02-01", "2021-02-26", "2021-03-01"]))
    assert list(panel_dates(cal)) == list(pd.to_datetime(["2021-01-29", "2021-02-26", "2021-03-01"]))
    assert list(panel_dates(cal, "daily", start="2021-02-01", end="2021-02-26")) == [cal[2], cal[3]]
    assert list(panel_dates(cal, as_of="2021-02-01")) == [cal[2]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(as_of="2021-01-30"), "not a trading day.*2021-01-29"),
    (dict(start="2022-01-01"), "no monthly dates"),
    (dict(start="2021-03-01", end="2021-01-01"), "after --end"),
    (dict(freq="weekly"), "freq"),
])
def test_impossible_requests_name_the_problem(kwargs: dict, message: str) -> None:
    cal = pd.DatetimeIndex(pd.to_datetime(["2021-01-28", "2021-01-29", "2021-02-01"]))
    with pytest.raises(PanelError, match=message):
        panel_dates(cal, **kwargs)


def test_panel_columns_and_order(sim_market: Market) -> None:
    panel = build_panel(sim_market, universe=SIM_UNIVERSE, start="2017-01-01", end="2017-06-30")
    names = [f.name for f in registered()]
    assert list(panel.columns) == ["date", "symbol", "in_universe", "exclusion_reason", *names]
    assert panel["date"].nunique() == 6
    assert panel.equals(panel.sort_values(["date", "symbol"]).reset_index(drop=True))
    assert (panel.groupby("date")["in_universe"].sum() == SIM_UNIVERSE.n).all()


def test_restricted_builds_equal_the_full_build(sim_market: Market) -> None:
    full = build_panel(sim_market, universe=SIM_UNIVERSE)
    part = build_panel(sim_market, universe=SIM_UNIVERSE, start="2016-03-01", end="2017-02-28")
    expected = full[(full["date"] >= "2016-03-01") & (full["date"] <= "2017-02-28")].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected, check_exact=True)
    day = full["date"].iloc[-1]
    one = build_panel(sim_market, universe=SIM_UNIVERSE, as_of=day)
    pd.testing.assert_frame_equal(one, full[full["date"] == day].reset_index(drop=True), check_exact=True)
    some = [day, full["date"].iloc[0]]  # explicit dates, any order: the same rows, sorted
    chosen = build_panel(sim_market, universe=SIM_UNIVERSE, dates=some)
    pd.testing.assert_frame_equal(chosen, full[full["date"].isin(some)].reset_index(drop=True), check_exact=True)
    with pytest.raises(PanelError, match="not trading days.*2016-01-02"):
        build_panel(sim_market, universe=SIM_UNIVERSE, dates=[day, pd.Timestamp("2016-01-02")])


def test_write_panel_round_trips_and_leaves_no_temporary_file(sim_market: Market, tmp_path: Path) -> None:
    panel = build_panel(sim_market, universe=SIM_UNIVERSE, as_of=sim_market.calendar[-1])
    path = write_panel(panel, tmp_path / "out" / "panel.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), panel)
    assert [p.name for p in path.parent.iterdir()] == ["panel.parquet"]
