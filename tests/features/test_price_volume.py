"""Price-volume family on hand-made markets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from features import History
from features.price_volume import (
    dist_high_250,
    limit_up_hits_60,
    macd_state,
    max_ret_20,
    mom_250_20,
    pv_corr_20,
    quiet_volume_spike_5_60,
    ret_5,
    up_volume_share_20,
    vol_20,
)
from tests.helpers import make_market


def _h(close: np.ndarray, **spec) -> History:
    return History(make_market({"AAA": {"close": close, **spec}}, len(close)))


def test_returns_use_adjusted_prices_across_a_split() -> None:
    close = 10.0 * 1.01 ** np.arange(12)
    adj = np.ones(12)
    close[8:] /= 2.0  # a 2:1 split on day 8: raw price halves, the factor doubles
    adj[8:] = 2.0
    out = ret_5(_h(close, adj_factor=adj)).to_numpy()
    assert np.isnan(out[:5]).all()
    np.testing.assert_allclose(out[5:], 1.01**5 - 1)


def test_momentum_skips_the_last_month() -> None:
    close = np.r_[np.full(231, 10.0), np.full(20, 20.0)]
    out = mom_250_20(_h(close)).to_numpy()
    assert np.isnan(out[:250]).all()
    assert out[250] == pytest.approx(0.0)  # the doubling is inside the skipped 20 sessions


def test_volatility_and_max_return() -> None:
    close = 10.0 * 1.01 ** np.arange(30)
    assert vol_20(_h(close)).iloc[-1] == pytest.approx(0.0, abs=1e-12)
    close[25] = close[24] * 1.09
    close[26:] = close[25] * 1.01 ** np.arange(1, 5)
    assert max_ret_20(_h(close)).iloc[-1] == pytest.approx(0.09)


def test_distance_from_the_yearly_high() -> None:
    close = np.r_[np.linspace(10, 20, 200), np.linspace(20, 15, 60)]
    out = dist_high_250(_h(close, high=close, low=close)).to_numpy()
    assert np.isnan(out[:249]).all()
    assert out[-1] == pytest.approx(15 / 20 - 1)


def test_up_volume_share_weighs_turnover_on_up_days() -> None:
    close = 10.0 * np.cumprod(np.r_[1.0, np.tile([1.02, 0.99], 15)])
    volume = np.r_[1000.0, np.tile([2000.0, 1000.0], 15)]
    assert up_volume_share_20(_h(close, volume=volume)).iloc[-1] == pytest.approx(2 / 3)
    assert pv_corr_20(_h(close, volume=volume)).iloc[-1] == pytest.approx(1.0)


def test_limit_up_hits_count_closes_at_the_limit_and_need_limits() -> None:
    close = np.full(70, 10.0)
    limit = np.full(70, 11.0)
    limit[[5, 40, 65]] = 10.0  # closed at the limit on three days, two of them in the last 60
    out = limit_up_hits_60(_h(close, limit_up=limit)).to_numpy()
    assert out[-1] == 2 and np.isnan(out[:59]).all()
    assert np.isnan(limit_up_hits_60(_h(close)).to_numpy()).all()


def test_macd_state_is_flat_for_a_flat_price_and_positive_when_a_trend_turns_up() -> None:
    flat = macd_state(_h(np.full(50, 10.0))).to_numpy()
    assert np.isnan(flat[:33]).all() and np.allclose(flat[33:], 0.0)
    turn = np.r_[np.full(40, 10.0), 10.0 * 1.02 ** np.arange(1, 11)]
    assert macd_state(_h(turn)).iloc[-1] > 0


def test_a_volume_spike_on_a_quiet_price_scores_above_the_same_spike_on_a_big_move() -> None:
    rng = np.random.default_rng(0)
    base = 10.0 * np.cumprod(1 + rng.normal(0, 0.02, 70))
    volume = np.r_[np.full(65, 1000.0), np.full(5, 4000.0)]
    quiet = base.copy()
    quiet[65:] = base[64]
    loud = base.copy()
    loud[65:] = base[64] * 1.08 ** np.arange(1, 6)
    q = quiet_volume_spike_5_60(_h(quiet, volume=volume)).iloc[-1]
    l_ = quiet_volume_spike_5_60(_h(loud, volume=volume)).iloc[-1]
    assert q > l_ > 0
