"""What the next session allows: last close carried over a missing day, suspension, limit locks,
the market-day median amount, and nothing after the date used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.tradability import tradability
from tests.helpers import DAYS, market


def test_suspension_limit_locks_last_close_and_no_look_ahead(tmp_path: Path) -> None:
    locked_up = {"open": 11.0, "high": 11.0, "low": 11.0, "close": 11.0}
    m = market(tmp_path, {("AAA", 30): {"volume": 0.0, "amount": 0.0, "close": 10.5, "high": 10.5}, ("BBB", 30): locked_up,
                          ("BBB", 31): {"open": 9.0, "high": 9.0, "low": 9.0, "close": 9.0}})
    m = type(m)(m.source, m.securities, m.bars[~((m.bars["symbol"] == "AAA") & (m.bars["date"] == DAYS[31]))]
                .reset_index(drop=True), None, None)  # AAA: no bar at all on day 31
    out = tradability(m, pd.DatetimeIndex([DAYS[30], DAYS[31]])).set_index(["date", "symbol"])
    assert out.loc[(DAYS[30], "AAA"), "suspended"] and not out.loc[(DAYS[30], "BBB"), "suspended"]
    assert out.loc[(DAYS[31], "AAA"), "suspended"] and out.loc[(DAYS[31], "AAA"), "close"] == 10.5  # carried
    assert out.loc[(DAYS[30], "BBB"), "limit_up_locked"] and out.loc[(DAYS[31], "BBB"), "limit_down_locked"]
    # through day 30: AAA traded 0 that day, 1,000,000 on the 19 before; on day 31 it has no bar yet
    # after its last one, so its amount is unknown (it is suspended: no order either way)
    assert out.loc[(DAYS[30], "AAA"), "median_amount_market_20"] == 1_000_000.0
    assert np.isnan(out.loc[(DAYS[31], "AAA"), "median_amount_market_20"])
    cut = tradability(m.until(DAYS[30]), pd.DatetimeIndex([DAYS[30]])).set_index(["date", "symbol"])
    pd.testing.assert_frame_equal(cut, out.loc[[DAYS[30]]])
    assert np.isnan(tradability(m, pd.DatetimeIndex([DAYS[5]]))["median_amount_market_20"]).all()  # < 20 days
