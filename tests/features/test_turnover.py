"""Turnover family on hand-made markets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from features import History, build_universe
from features.turnover import (
    abnormal_turnover_20_120,
    amihud_20,
    non_trading_share_60,
    turnover_5,
    turnover_cv_20,
    turnover_rank_change_21,
    turnover_trend_60,
)
from tests.helpers import OPEN_UNIVERSE, make_market

FLOAT = 1e6


def _h(days: int, **spec) -> History:
    spec.setdefault("close", np.full(days, 10.0))
    return History(make_market({"AAA": spec}, days))


def test_turnover_5_is_a_strict_5_session_mean() -> None:
    volume = np.arange(1, 11) * 1000.0
    out = turnover_5(_h(10, volume=volume)).to_numpy()
    assert np.isnan(out[:4]).all()
    np.testing.assert_allclose(out[4:], [np.mean(volume[i - 4:i + 1]) / FLOAT for i in range(4, 10)])


def test_abnormal_turnover_is_one_for_steady_trading_and_missing_before_120_sessions() -> None:
    out = abnormal_turnover_20_120(_h(130)).to_numpy()
    assert np.isnan(out[:119]).all()
    np.testing.assert_allclose(out[119:], 1.0)


def test_turnover_trend_recovers_a_linear_ramp() -> None:
    volume = 1000.0 + 10.0 * np.arange(80)
    out = turnover_trend_60(_h(80, volume=volume)).to_numpy()
    assert np.isnan(out[:59]).all()
    mean = np.array([volume[i - 59:i + 1].mean() for i in range(59, 80)])
    np.testing.assert_allclose(out[59:], 10.0 / mean, rtol=1e-6)


def test_non_trading_share_counts_zero_volume_days_and_missing_rows() -> None:
    volume = np.full(70, 1000.0)
    volume[[65, 66, 67]] = 0.0
    market = make_market({"AAA": {"close": np.full(70, 10.0), "volume": volume, "missing": [20, 40]},
                          "BBB": {"close": np.full(70, 10.0)}}, 70)
    out = non_trading_share_60(History(market))
    # AAA's last 60 sessions span market days 8..69 (62 days, 2 missing rows), 57 with trading
    assert out.iloc[67] == pytest.approx(1 - 57 / 62)
    assert out.iloc[68 + 59:].eq(0.0).all()  # BBB trades every day


def test_amihud_is_absolute_return_per_million_traded() -> None:
    close = 10.0 * 1.01 ** np.arange(30)
    h = _h(30, close=close)
    out = amihud_20(h).to_numpy()
    assert np.isnan(out[:20]).all()
    amount = 1000.0 * close[-20:]
    assert out[-1] == pytest.approx(20 * 0.01 / amount.sum() * 1e6)


def test_turnover_cv_is_zero_for_steady_and_positive_for_bursty_trading() -> None:
    assert turnover_cv_20(_h(25)).iloc[-1] == pytest.approx(0.0)
    bursty = np.where(np.arange(25) % 2 == 0, 500.0, 1500.0)
    assert turnover_cv_20(_h(25, volume=bursty)).iloc[-1] == pytest.approx(np.std(bursty[-20:], ddof=1) / 1000.0)


def test_turnover_rank_change_tracks_attention_moving_within_the_universe() -> None:
    days = 80
    jump = np.where(np.arange(days) < 30, 100.0, 5000.0)
    market = make_market({"AAA": {"close": np.full(days, 10.0), "volume": jump},
                          "BBB": {"close": np.full(days, 10.0), "volume": 1000.0},
                          "CCC": {"close": np.full(days, 10.0), "volume": 2000.0}}, days)
    h = History(market)
    h.attach_universe(build_universe(h, OPEN_UNIVERSE)["in_universe"].to_numpy())
    out = turnover_rank_change_21(h)
    a = (market.bars["symbol"] == "AAA").to_numpy()
    # AAA goes from the lowest (1/6) to the highest (5/6) turnover_20 of three members
    assert out[a].iloc[50] == pytest.approx(5 / 6 - 1 / 6)
    assert out[a].iloc[75] == pytest.approx(0.0)
    assert np.isnan(out[a].iloc[:40]).all()
