"""Universe rules: each exclusion with its reason code, smallest-n and cap-band selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import History, UniverseConfig, build_universe
from tests.helpers import make_market

DAYS = 30


def _market():
    flat = np.full(DAYS, 10.0)
    zero_last = np.full(DAYS, 1000.0)
    zero_last[-1] = 0.0
    penny = flat.copy()
    penny[-5:] = 0.9
    stocks = {
        "STX": {"close": flat, "st": True, "list_date": "2021-01-04"},  # st and new: st comes first
        "NEW": {"close": flat, "list_date": "2021-01-04"},
        "SUS": {"close": flat, "volume": zero_last},
        "PEN": {"close": penny},
        "NEG": {"close": flat},
        "LOS": {"close": flat},
        "IDL": {"close": flat, "missing": [23, 24, 25, 26, 27, 28]},  # idle 6 of the last 20 days
        "S1": {"close": np.full(DAYS, 1.5)},
        "S2": {"close": np.full(DAYS, 2.0)},
        "S3": {"close": np.full(DAYS, 3.0)},
    }
    fundamentals = pd.DataFrame({
        "symbol": ["NEG", "LOS", "S1"],
        "period_end": pd.to_datetime(["2020-12-31"] * 3),
        "announce_date": pd.to_datetime(["2021-01-20", "2021-01-20", "2021-01-20"]),
        "net_income_ttm": [1e6, -1e6, -1e6],
        "revenue_ttm": [1e8, 5e7, 2e8],  # S1 loses money but has revenue: kept
        "book_equity": [-1e6, 1e7, 1e7],
    })
    return make_market(stocks, DAYS, fundamentals=fundamentals)


def _last_day(config: UniverseConfig) -> pd.DataFrame:
    market = _market()
    out = build_universe(History(market), config)
    out["symbol"] = market.bars["symbol"].astype("str")
    out["date"] = market.bars["date"]
    last = out[out["date"] == out["date"].max()].set_index("symbol")
    return last


def test_each_exclusion_has_its_reason_code() -> None:
    last = _last_day(UniverseConfig(n=2))
    reasons = last["exclusion_reason"].astype("object").to_dict()
    assert pd.isna(reasons.pop("S1")) and pd.isna(reasons.pop("S2"))
    assert reasons == {"STX": "st", "NEW": "new_listing", "SUS": "untradable", "PEN": "penny",
                       "NEG": "negative_book", "LOS": "loss_small_revenue", "IDL": "illiquid",
                       "S3": "not_smallest"}
    assert last["in_universe"].to_dict() == {s: s in ("S1", "S2") for s in last.index}


def test_fundamental_exclusions_start_on_the_announcement_day() -> None:
    market = _market()
    out = build_universe(History(market), UniverseConfig(n=10))
    neg = (market.bars["symbol"] == "NEG").to_numpy()
    dates = market.bars["date"][neg]
    reasons = out["exclusion_reason"][neg].astype("object")
    assert reasons[dates < "2021-01-20"].isna().all()
    assert (reasons[dates >= "2021-01-20"] == "negative_book").all()


def test_penny_needs_k_of_the_last_20_closes_below_the_price() -> None:
    market = _market()
    pen = (market.bars["symbol"] == "PEN").to_numpy()
    for k, expected in ((5, "penny"), (6, None)):
        out = build_universe(History(market), UniverseConfig(n=10, penny_days=k))
        reason = out["exclusion_reason"][pen].iloc[-1]
        assert (reason == expected) if expected else pd.isna(reason)


def test_cap_band_keeps_eligible_stocks_inside_the_band() -> None:
    # caps: S1 3e6, S2 4e6, S3 6e6 (close x 2e6 shares)
    last = _last_day(UniverseConfig(kind="cap_band", band=(3.5e6, 6e6)))
    assert last.loc["S1", "exclusion_reason"] == "outside_band"
    assert last.loc[["S2", "S3"], "in_universe"].all()


def test_smallest_n_holds_exactly_n_members_a_day_when_enough_are_eligible(sim_market) -> None:
    out = build_universe(History(sim_market), UniverseConfig(n=50))
    per_day = out["in_universe"].groupby(sim_market.bars["date"]).sum()
    eligible = out["exclusion_reason"].isin(["not_smallest"]) | out["in_universe"]
    per_day_eligible = eligible.groupby(sim_market.bars["date"]).sum()
    assert (per_day == np.minimum(per_day_eligible, 50)).all()
    caps = sim_market.bars["market_cap"]
    day = sim_market.calendar[-1]
    today = (sim_market.bars["date"] == day).to_numpy()
    members, others = caps[today & out["in_universe"]], caps[today & (out["exclusion_reason"] == "not_smallest")]
    assert members.max() <= others.min()


@pytest.mark.parametrize("bad", [dict(kind="largest"), dict(n=0), dict(band=(3e8, 5e7)), dict(penny_days=21),
                                 dict(max_idle_share=1.0)])
def test_bad_configs_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        UniverseConfig(**bad)
