"""The in-memory form: order, dtypes and the derived basics, with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market import load_market
from tests.helpers import tiny_tables, write_tables


def test_sorted_by_symbol_then_date_whatever_the_input_order(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"] = tables["daily_bars"].sample(frac=1.0, random_state=3)
    tables["securities"] = tables["securities"].iloc[::-1]
    shuffled = load_market(write_tables(tables, tmp_path / "shuffled"))
    ordered = load_market(write_tables(tiny_tables(), tmp_path / "ordered"))
    pd.testing.assert_frame_equal(shuffled.bars, ordered.bars)
    keys = list(zip(shuffled.bars["symbol"].astype(str), shuffled.bars["date"]))
    assert keys == sorted(keys)


def test_documented_dtypes(tiny_dir: Path) -> None:
    m = load_market(tiny_dir)
    assert isinstance(m.bars["symbol"].dtype, pd.CategoricalDtype)
    assert list(m.bars["symbol"].cat.categories) == ["AAA", "BBB", "CCC"]
    assert m.fundamentals["symbol"].dtype == m.bars["symbol"].dtype == m.holders["symbol"].dtype
    assert m.bars["date"].dtype == "datetime64[ns]"
    assert m.securities["delist_date"].dtype == "datetime64[ns]"
    for col in ("open", "close", "volume", "adj_factor", "turnover", "market_cap", "limit_up"):
        assert m.bars[col].dtype == np.float64, col
    for col in ("st", "suspended", "tradable", "limit_up_locked"):
        assert m.bars[col].dtype == bool, col
    assert m.holders["holder_count"].dtype == np.int64
    assert isinstance(m.bars.index, pd.RangeIndex)


def _row(m, symbol: str, date: str) -> pd.Series:
    b = m.bars
    return b[(b["symbol"] == symbol) & (b["date"] == pd.Timestamp(date))].iloc[0]


def test_derived_basics_known_answers(tiny_dir: Path) -> None:
    m = load_market(tiny_dir)
    after_split = _row(m, "AAA", "2021-03-04")  # close 6.5 raw, adj_factor 2 after a 2:1 split
    assert after_split["adj_close"] == pytest.approx(13.0)
    assert after_split["market_cap"] == pytest.approx(6.5 * 2e6)
    assert after_split["float_cap"] == pytest.approx(6.5 * 1e6)
    assert after_split["turnover"] == pytest.approx(4000 / 1e6)
    before = _row(m, "AAA", "2021-03-03")
    assert after_split["adj_close"] / before["adj_close"] - 1 == pytest.approx(13.0 / 12.0 - 1)


def test_tradable_flag(tiny_dir: Path) -> None:
    m = load_market(tiny_dir)
    zero_volume = _row(m, "BBB", "2021-03-04")
    assert zero_volume["suspended"] and not zero_volume["tradable"]
    locked = _row(m, "BBB", "2021-03-08")  # one price all day at the up limit
    assert locked["limit_up_locked"] and not locked["tradable"]
    assert _row(m, "AAA", "2021-03-08")["tradable"]
    assert int(m.bars["tradable"].sum()) == len(m.bars) - 2


def test_calendar_is_every_bar_date(tiny_dir: Path) -> None:
    cal = load_market(tiny_dir).calendar
    assert list(cal.strftime("%m-%d")) == ["03-01", "03-02", "03-03", "03-04", "03-05", "03-08"]


def test_extra_columns_are_kept(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"]["vendor_flag"] = 7
    assert (load_market(write_tables(tables, tmp_path / "m")).bars["vendor_flag"] == 7).all()


def test_tables_in_memory_load_like_files(tiny_dir: Path) -> None:
    from market.load import market_from_tables

    from_files = load_market(tiny_dir)
    tables = tiny_tables()
    del tables["daily_bars"]["limit_down"]  # an absent optional column is filled, as from files
    in_memory = market_from_tables(tables)
    pd.testing.assert_frame_equal(in_memory.bars.drop(columns=["limit_down", "limit_down_locked"]),
                                  from_files.bars.drop(columns=["limit_down", "limit_down_locked"]))
    assert in_memory.bars["limit_down"].isna().all()
    broken = tiny_tables()
    broken["daily_bars"].loc[0, "close"] = -1.0
    from market.errors import InvalidMarketError

    with pytest.raises(InvalidMarketError, match="daily_bars.close"):
        market_from_tables(broken)


def test_until_keeps_only_what_was_known_that_day(tiny_dir: Path) -> None:
    market = load_market(tiny_dir)
    cut = market.until("2021-03-03")
    assert cut.bars["date"].max() == pd.Timestamp("2021-03-03")
    assert (cut.fundamentals["announce_date"] <= "2021-03-03").all() and len(cut.fundamentals) == 3
    assert cut.holders["announce_date"].max() == pd.Timestamp("2021-03-02")
    assert cut.securities["delist_date"].isna().all()  # CCC's delisting (03-05) is not known yet
    assert market.until("2021-03-08").securities["delist_date"].notna().sum() == 1
