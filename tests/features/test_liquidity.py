"""Liquidity: the 20-day median traded amount as of the close (per session) and before the open
(per market day, a missing day traded nothing), both point in time."""

from __future__ import annotations

import numpy as np

from features import History
from features.liquidity import median_amount_20, median_amount_through_close
from tests.helpers import make_market


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


def test_at_the_close_the_median_covers_the_last_20_market_days_with_gaps_as_zero() -> None:
    amount = np.full((30, 2), np.nan)
    amount[3:, 0] = np.arange(27) * 10.0          # lists on day 3
    amount[:, 1] = 500.0
    amount[[10, 11], 1] = np.nan                   # suspended two days: nothing traded
    out = median_amount_through_close(amount)
    assert np.isnan(out[:22, 0]).all()            # 20 known days at the close of day 22
    np.testing.assert_allclose(out[22:, 0], [np.median(amount[t - 19:t + 1, 0]) for t in range(22, 30)])
    assert np.isnan(out[:19, 1]).all() and out[19, 1] == 500.0 and out[21, 1] == 500.0
    gaps = amount[:, 1].copy()
    gaps[[10, 11]] = 0.0
    np.testing.assert_allclose(out[19:, 1], [np.median(gaps[t - 19:t + 1]) for t in range(19, 30)])
    np.testing.assert_array_equal(median_amount_through_close(amount[:25])[:25], out[:25])  # no later day
