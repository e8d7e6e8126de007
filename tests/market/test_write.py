"""Writing a market back out: the market as known on a past day loads, validates and equals
the in-memory cut."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from market.fingerprint import fingerprint
from market.load import load_market
from market.write import write_market_tables
from tests.helpers import tiny_tables, write_tables


def test_a_cut_market_round_trips(tmp_path: Path) -> None:
    market = load_market(write_tables(tiny_tables(), tmp_path / "src"))
    day = market.calendar[-3]
    out = write_market_tables(market.until(day), tmp_path / "cut")
    again = load_market(out)
    assert again.calendar[-1] == day and len(again.calendar) == len(market.calendar) - 2
    assert fingerprint(again)["hash"] == fingerprint(load_market(write_market_tables(market.until(day),
                                                                                      tmp_path / "cut2")))["hash"]
    assert set(again.securities["symbol"].astype(str)) == set(market.securities.loc[
        market.securities["list_date"] <= day, "symbol"].astype(str))
    assert pd.isna(again.securities.set_index("symbol").loc["CCC", "delist_date"])  # delisted later: unknown then
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut", "cut2", "src"]
