"""Liquidity helper: the 20-session median traded amount, point in time."""

from __future__ import annotations

import numpy as np

from features import History
from features.liquidity import median_amount_20
from tests.features.conftest import make_market


def test_median_amount_is_a_strict_20_session_median_with_idle_days_as_zero() -> None:
    volume = np.arange(1, 31) * 100.0
    volume[25] = 0.0  # a zero-volume day counts as nothing traded
    h = History(make_market({"AAA": {"close": np.full(30, 10.0), "volume": volume}}, 30))
    out = median_amount_20(h).to_numpy()
    amount = volume * 10.0
    assert np.isnan(out[:19]).all()
    np.testing.assert_allclose(out[19:], [np.median(amount[i - 19:i + 1]) for i in range(19, 30)])


def test_it_uses_no_later_day() -> None:
    volume = np.arange(1, 41) * 100.0
    full = History(make_market({"AAA": {"close": np.full(40, 10.0), "volume": volume}}, 40))
    cut = History(make_market({"AAA": {"close": np.full(30, 10.0), "volume": volume[:30]}}, 30))
    np.testing.assert_array_equal(median_amount_20(full).to_numpy()[:30], median_amount_20(cut).to_numpy())
