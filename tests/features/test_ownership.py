"""Ownership family: disclosures as of each day, and missing without a holders table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import History
from features.ownership import (
    days_since_disclosure,
    float_ratio,
    holder_count_change,
    log_float_per_holder,
    top10_change,
    top10_ratio,
)
from tests.helpers import make_market

DAYS = 20
HOLDERS = pd.DataFrame({
    "symbol": ["AAA", "AAA"],
    "period_end": pd.to_datetime(["2020-09-30", "2020-12-31"]),
    "announce_date": pd.to_datetime(["2020-10-30", "2021-01-11"]),  # the second: day 5
    "holder_count": [5000, 4000],
    "top10_ratio": [0.40, 0.46],
})


def _h(holders: pd.DataFrame | None) -> History:
    return History(make_market({"AAA": {"close": np.full(DAYS, 10.0)}}, DAYS, holders=holders))


def test_changes_compare_the_latest_disclosure_with_the_one_before() -> None:
    h = _h(HOLDERS)
    change = holder_count_change(h).to_numpy()
    assert np.isnan(change[:5]).all()  # the first known disclosure has no predecessor
    np.testing.assert_allclose(change[5:], np.log(4000 / 5000))
    np.testing.assert_allclose(top10_change(h).to_numpy()[5:], 0.06)
    assert top10_ratio(h).iloc[0] == 0.40 and top10_ratio(h).iloc[-1] == 0.46
    assert log_float_per_holder(h).iloc[-1] == pytest.approx(np.log(1e6 / 4000))


def test_days_since_disclosure_restarts_at_each_announcement() -> None:
    out = days_since_disclosure(_h(HOLDERS)).to_numpy()
    # the first disclosure predates the calendar: 2020-10-30 is 46 weekdays before 2021-01-04
    np.testing.assert_array_equal(out[:5], 46 + np.arange(5))
    np.testing.assert_array_equal(out[5:], np.arange(DAYS - 5))


def test_holder_features_are_missing_without_a_holders_table_but_float_ratio_is_not() -> None:
    h = _h(None)
    for f in (holder_count_change, top10_ratio, top10_change, log_float_per_holder, days_since_disclosure):
        assert f(h).isna().all(), f.__name__
    np.testing.assert_allclose(float_ratio(h).to_numpy(), 0.5)
