"""Crowding gauges and the regime flag: exact rules, the registry's values, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import History, UniverseConfig, build_universe
from features.crowding import CrowdingRule, crowding, crowding_regime, segment_gauges
from features.segment import microcap_bp_spread, microcap_turnover_share_20
from market.load import Market

UNIVERSE = UniverseConfig(n=60)


def _gauges(share: list[float], spread: list[float]) -> pd.DataFrame:
    index = pd.bdate_range("2021-01-04", periods=len(share), name="date")
    return pd.DataFrame({"turnover_share": share, "bp_spread": spread}, index=index)


def test_regime_rules_on_planted_gauges() -> None:
    rule = CrowdingRule(window=10, min_periods=5, high=0.9, elevated=0.8, rich=0.5)
    # share rises 1..10, so day k (k >= 5) is the highest of its window: percentile 1.0.
    share = [float(k) for k in range(1, 11)] + [5.0, 9.5]
    spread = [0.0] * 9 + [-1.0, 1.0, np.nan]
    out = crowding_regime(_gauges(share, spread), rule)
    assert list(out["regime"][:4]) == ["unknown"] * 4
    # day 9: top share, the lowest spread of its window (rich) -> crowded
    assert out["regime"].iloc[9] == "crowded"
    assert out["turnover_share_pctile"].iloc[9] == 1.0
    # days 4..8: top share, but k tied spreads rank at their average, (k+1)/2/k > 0.5: not
    # rich -> elevated
    assert (out["bp_spread_pctile"].iloc[4:9] > 0.5).all()
    assert list(out["regime"].iloc[4:9]) == ["elevated"] * 5
    # day 10: window 2..10 and 5; the two 5s share ranks 4 and 5 -> 4.5/10 -> normal
    assert out["turnover_share_pctile"].iloc[10] == pytest.approx(0.45)
    assert out["regime"].iloc[10] == "normal"
    # day 11: share 9.5 ranks 9/10 = 0.9 with the spread unknown -> crowded on turnover alone
    assert out["turnover_share_pctile"].iloc[11] == pytest.approx(0.9)
    assert np.isnan(out["bp_spread_pctile"].iloc[11])
    assert out["regime"].iloc[11] == "crowded"


def test_rule_is_validated() -> None:
    with pytest.raises(ValueError, match="min_periods"):
        CrowdingRule(window=10, min_periods=20)
    with pytest.raises(ValueError, match="elevated"):
        CrowdingRule(elevated=0.95, high=0.9)


def test_gauges_are_the_segment_features_one_value_a_day(sim_market: Market) -> None:
    gauges = segment_gauges(sim_market, UNIVERSE)
    assert gauges.index.equals(pd.DatetimeIndex(sim_market.calendar, name="date"))
    h = History(sim_market)
    h.attach_universe(build_universe(h, UNIVERSE)["in_universe"].to_numpy())
    share = microcap_turnover_share_20(h).groupby(h.cal_idx).first()
    spread = microcap_bp_spread(h).groupby(h.cal_idx).first()
    np.testing.assert_array_equal(gauges["turnover_share"].to_numpy(), share.to_numpy())
    np.testing.assert_array_equal(gauges["bp_spread"].to_numpy(), spread.to_numpy())
    assert gauges["turnover_share"].between(0, 1).sum() > len(gauges) - 25


def test_no_look_ahead(sim_market: Market) -> None:
    full = crowding(sim_market, UNIVERSE)
    assert set(full["regime"].dropna()) >= {"normal"}
    for day in (sim_market.calendar[300], sim_market.calendar[700]):
        cut = crowding(sim_market.until(day), UNIVERSE)
        pd.testing.assert_frame_equal(cut, full.loc[:day])
