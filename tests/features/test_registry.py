"""Generic tests over the whole feature registry: every feature is covered once registered.

- look-ahead: features as of t from data truncated at t equal those from the full data, exactly;
- per-stock: the vectorised computation equals running each stock alone, exactly;
- look-back: the declared look-back is enough (and needed) for the value;
- invariance: prices and amounts x10 leave scale-free features unchanged; row order is irrelevant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FAMILIES, REGISTRY, History, build_panel, build_universe, registered
from features.registry import feature
from market.load import Market, market_from_tables
from tests.helpers import SIM_UNIVERSE

FEATURES = registered()
PER_STOCK = [f for f in FEATURES if not f.cross_sectional]
NAMES = [f.name for f in FEATURES]


def test_registry_is_complete_and_documented() -> None:
    assert len(FEATURES) >= 40
    assert {f.family for f in FEATURES} == set(FAMILIES)
    for f in FEATURES:
        assert f.name == f.func.__name__ and REGISTRY[f.name] is f
        assert f.intuition and f.lookback >= 1
        assert f.func.__module__ == f"features.{f.family}", f"{f.name} lives outside its family module"
    labels = [f.label for f in FEATURES]  # what a manager reads in a ranking's drivers
    assert all(0 < len(label) <= 40 and "_" not in label for label in labels) and len(set(labels)) == len(labels)


def test_registration_refuses_bad_declarations() -> None:
    with pytest.raises(ValueError, match="family"):
        feature(lookback=5, family="astrology", label="Stars")
    with pytest.raises(ValueError, match="lookback"):
        feature(lookback=0, family="turnover", label="Turnover")
    with pytest.raises(ValueError, match="label"):
        feature(lookback=5, family="turnover", label="")
    with pytest.raises(ValueError, match="docstring"):
        feature(lookback=5, family="turnover", label="Turnover")(lambda h: h.turnover)


def _panel_at(market: Market, day: pd.Timestamp) -> pd.DataFrame:
    return build_panel(market, universe=SIM_UNIVERSE, as_of=day)


def _assert_lookahead_free(market: Market, days: list[pd.Timestamp]) -> None:
    for day in days:
        full = _panel_at(market, day)
        cut = _panel_at(market.until(day), day)
        assert len(full) > 0
        pd.testing.assert_frame_equal(full, cut, check_exact=True, obj=f"panel as of {day:%Y-%m-%d}")


def _test_days(market: Market) -> list[pd.Timestamp]:
    cal = market.calendar
    return [cal[30], cal[len(cal) // 2], cal[-25]]


def test_no_feature_looks_ahead_on_the_simulated_market(sim_market: Market) -> None:
    _assert_lookahead_free(sim_market, _test_days(sim_market))


@pytest.mark.slow
def test_no_feature_looks_ahead_on_the_real_market(real_market: Market) -> None:
    cal = real_market.calendar
    _assert_lookahead_free(real_market, [cal[260], cal[-25]])


def test_every_feature_has_values_on_the_simulated_market(sim_market: Market) -> None:
    panel = build_panel(sim_market, universe=SIM_UNIVERSE)
    members = panel[panel["in_universe"]]
    dead = [name for name in NAMES if not np.isfinite(members[name]).any()]
    assert not dead, f"features never defined for universe members: {dead}"
    assert not np.isinf(panel[NAMES].to_numpy()).any()


def _one_stock(market: Market, symbol: str) -> Market:
    bars = market.bars[market.bars["symbol"] == symbol].reset_index(drop=True)

    def own(df: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if df is None else df[df["symbol"] == symbol].reset_index(drop=True)

    return Market(market.source, market.securities, bars, own(market.fundamentals), own(market.holders))


def test_vectorised_features_equal_running_each_stock_alone(sim_market: Market) -> None:
    history = History(sim_market)
    full = {f.name: f(history) for f in PER_STOCK}
    for symbol in sim_market.securities["symbol"].iloc[[0, 17, 123, -1]]:
        rows = np.flatnonzero((sim_market.bars["symbol"] == symbol).to_numpy())
        alone = History(_one_stock(sim_market, symbol), calendar=sim_market.calendar)
        for f in PER_STOCK:
            np.testing.assert_array_equal(f(alone).to_numpy(), full[f.name].to_numpy()[rows],
                                          err_msg=f"{f.name} for {symbol}")


def test_declared_lookback_is_enough_and_needed(sim_market: Market) -> None:
    """The last value of a stock from only its last ``lookback`` sessions equals the value
    from its whole history; with one session fewer it is missing."""
    symbols = sim_market.securities["symbol"].iloc[[3, 50, 200]]
    for symbol in symbols:
        market = _one_stock(sim_market, symbol)
        whole = History(market, calendar=sim_market.calendar)
        for f in PER_STOCK:
            expected = f(whole).iloc[-1]
            if np.isnan(expected):
                continue
            for sessions, should_exist in ((f.lookback, True), (f.lookback - 1, False)):
                if sessions < 1:
                    continue
                bars = market.bars.iloc[-sessions:].reset_index(drop=True)
                short = History(Market(market.source, market.securities, bars, market.fundamentals,
                                       market.holders), calendar=sim_market.calendar)
                value = f(short).iloc[-1]
                if should_exist:
                    assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), f"{f.name} {symbol}"
                elif f.lookback > 1 and "market_days" not in f.name:
                    assert np.isnan(value), f"{f.name} is computed on fewer than {f.lookback} sessions"


def _scaled(market: Market, factor: float) -> Market:
    """Every price and currency amount x factor (the same market in another currency unit)."""
    bars = market.bars[["symbol", "date", "open", "high", "low", "close", "volume", "amount", "adj_factor",
                        "shares_total", "shares_float", "st", "limit_up", "limit_down"]].copy()
    for column in ("open", "high", "low", "close", "amount", "limit_up", "limit_down"):
        bars[column] = bars[column] * factor
    fundamentals = market.fundamentals.copy()
    for column in ("net_income_ttm", "revenue_ttm", "book_equity", "operating_cash_flow_ttm"):
        fundamentals[column] = fundamentals[column] * factor
    bars["symbol"] = bars["symbol"].astype("str")
    fundamentals["symbol"] = fundamentals["symbol"].astype("str")
    holders = market.holders.copy()
    holders["symbol"] = holders["symbol"].astype("str")
    return market_from_tables({"securities": market.securities, "daily_bars": bars,
                               "fundamentals": fundamentals, "holders": holders})


def test_scale_free_features_ignore_the_currency_unit(sim_market: Market) -> None:
    # a universe without currency thresholds, so membership is unit-free too
    universe = SIM_UNIVERSE.__class__(n=60, penny_price=0.0, min_revenue=0.0)
    day = sim_market.calendar[-30]
    base = build_panel(sim_market, universe=universe, as_of=day)
    scaled = build_panel(_scaled(sim_market, 10.0), universe=universe, as_of=day)
    pd.testing.assert_series_equal(base["in_universe"], scaled["in_universe"])
    free = [f.name for f in FEATURES if f.scale_free]
    # rolling moments are updated online, so float rounding differs a little between units
    pd.testing.assert_frame_equal(base[free], scaled[free], rtol=1e-6, atol=1e-9)
    moved = [f.name for f in FEATURES if not f.scale_free]
    assert all(not np.allclose(base[n].dropna(), scaled[n].dropna()) for n in moved)


def test_row_order_of_the_input_is_irrelevant(sim_market: Market) -> None:
    day = sim_market.calendar[-30]
    rng = np.random.default_rng(0)
    tables = {"securities": sim_market.securities.sample(frac=1.0, random_state=1)}
    for name, df in (("daily_bars", sim_market.bars), ("fundamentals", sim_market.fundamentals),
                     ("holders", sim_market.holders)):
        shuffled = df.iloc[rng.permutation(len(df))].copy()
        shuffled["symbol"] = shuffled["symbol"].astype("str")
        tables[name] = shuffled
    shuffled_market = market_from_tables(tables)
    pd.testing.assert_frame_equal(build_panel(sim_market, universe=SIM_UNIVERSE, as_of=day),
                                  build_panel(shuffled_market, universe=SIM_UNIVERSE, as_of=day), check_exact=True)


def test_universe_is_rebuilt_from_data_known_that_day(sim_market: Market) -> None:
    day = sim_market.calendar[len(sim_market.calendar) // 2]
    full = build_universe(History(sim_market), SIM_UNIVERSE)
    cut = build_universe(History(sim_market.until(day)), SIM_UNIVERSE)
    rows = (sim_market.bars["date"] <= day).to_numpy()
    pd.testing.assert_frame_equal(full[rows].reset_index(drop=True), cut.reset_index(drop=True), check_exact=True)
