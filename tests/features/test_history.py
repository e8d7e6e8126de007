"""History helpers: windows and lags never cross stocks; percentiles use one day's universe."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from features import History
from tests.helpers import make_market


def _history() -> History:
    return History(make_market({"AAA": {"close": np.arange(1.0, 11.0)},
                                "BBB": {"close": np.arange(101.0, 111.0), "missing": [4]}}, 10))


def test_shift_and_windows_stay_within_a_stock() -> None:
    h = _history()
    close = h.col("close")
    shifted = h.shift(close, 2).to_numpy()
    assert np.isnan(shifted[[0, 1, 10, 11]]).all()  # the first two rows of each stock
    assert shifted[10 + 2] == 101.0
    means = h.mean(close, 3).to_numpy()
    assert np.isnan(means[10:12]).all() and means[12] == pytest.approx(102.0)


def test_lag_by_market_days_is_missing_where_the_stock_had_no_bar() -> None:
    h = _history()
    lagged = h.lag_market_days(h.col("close"), 1).to_numpy()
    bbb = lagged[10:]
    # BBB has no bar on market day 4, so its day-5 value has no day-4 predecessor
    assert np.isnan(bbb[0]) and bbb[1] == 101.0 and np.isnan(bbb[4]) and bbb[5] == 106.0


def test_universe_percentile_places_every_stock_within_the_members_of_its_day() -> None:
    h = _history()
    h.attach_universe(np.r_[np.ones(10, bool), np.zeros(9, bool)])  # only AAA is a member
    pct = h.universe_percentile(h.col("close")).to_numpy()
    np.testing.assert_allclose(pct[:10], 0.5)  # a member ties with itself
    np.testing.assert_allclose(pct[10:], 1.0)  # BBB's price is above the only member's


def test_features_import_neither_mlflow_nor_training() -> None:
    code = ("import sys, features; features.registered(); "
            "bad = [m for m in ('mlflow', 'training', 'serving') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
