"""Every accepted layout loads the same; unreadable files and wrong types are refused by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from market import InvalidMarketError, MarketDataError, load_market
from tests.helpers import tiny_tables, write_tables


@pytest.mark.parametrize("layout", ["parquet-dir", "csv"])
def test_every_layout_loads_the_same(tmp_path: Path, layout: str) -> None:
    reference = load_market(write_tables(tiny_tables(), tmp_path / "ref", "parquet"))
    other = load_market(write_tables(tiny_tables(), tmp_path / layout, layout))
    for name in ("securities", "bars", "fundamentals", "holders"):
        ref, got = getattr(reference, name), getattr(other, name)
        got = got[[c for c in got.columns if c != "year"]]  # hive partition column is an extra column
        pd.testing.assert_frame_equal(got, ref, check_dtype=True, obj=name)


def test_hive_partition_column_is_kept_as_extra(tmp_path: Path) -> None:
    market = load_market(write_tables(tiny_tables(), tmp_path / "m", "parquet-dir"))
    assert "year" in market.bars.columns


def test_optional_tables_and_columns_may_be_absent(tmp_path: Path) -> None:
    tables = tiny_tables()
    del tables["fundamentals"], tables["holders"]
    tables["daily_bars"] = tables["daily_bars"].drop(columns=["st", "limit_up", "limit_down"])
    market = load_market(write_tables(tables, tmp_path / "m"))
    assert market.fundamentals is None and market.holders is None
    assert not market.bars["st"].any()
    assert market.bars["limit_up"].isna().all() and not market.bars["limit_up_locked"].any()
    assert market.summary().endswith("(fundamentals, holders absent)")


def test_two_layouts_of_one_table_are_refused(tiny_dir: Path) -> None:
    pd.read_parquet(tiny_dir / "holders.parquet").to_csv(tiny_dir / "holders.csv", index=False)
    with pytest.raises(MarketDataError, match=r"holders: rule 'exactly one layout per table'.*holders.parquet, holders.csv"):
        load_market(tiny_dir)


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="market directory exists"):
        load_market(tmp_path / "nowhere")


def test_missing_required_table_is_named(tiny_dir: Path) -> None:
    (tiny_dir / "daily_bars.parquet").unlink()
    with pytest.raises(MarketDataError, match=r"^daily_bars: rule 'required table present'"):
        load_market(tiny_dir)


def test_unreadable_file_is_named(tiny_dir: Path) -> None:
    (tiny_dir / "fundamentals.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(MarketDataError, match=r"^fundamentals: rule 'readable table'"):
        load_market(tiny_dir)


def test_empty_parquet_directory_is_named(tiny_dir: Path) -> None:
    (tiny_dir / "holders.parquet").unlink()
    (tiny_dir / "holders").mkdir()
    with pytest.raises(MarketDataError, match=r"^holders: rule 'readable table'.*no Parquet files"):
        load_market(tiny_dir)


def test_other_files_in_a_table_directory_are_ignored(tmp_path: Path) -> None:
    reference = load_market(write_tables(tiny_tables(), tmp_path / "ref", "parquet-dir"))
    root = write_tables(tiny_tables(), tmp_path / "m", "parquet-dir")
    (root / "daily_bars" / "README.txt").write_text("vendor dump of 2021\n")
    (root / "daily_bars" / "year=2021" / "part-0.parquet.crc").write_bytes(b"\x00\x01")
    (root / "daily_bars" / "_SUCCESS").write_text("")
    renamed = root / "holders" / "year=2020" / "part-1.parquet"  # its one row
    renamed.rename(renamed.with_name("part-00000"))  # Spark names data files without a suffix
    market = load_market(root)
    pd.testing.assert_frame_equal(market.bars, reference.bars)
    pd.testing.assert_frame_equal(market.holders, reference.holders)


def test_a_symbolic_link_loop_in_a_table_directory_is_named(tmp_path: Path) -> None:
    root = write_tables(tiny_tables(), tmp_path / "m", "parquet-dir")
    (root / "daily_bars" / "year=2021" / "loop").symlink_to("..")
    with pytest.raises(MarketDataError, match=r"^daily_bars: rule 'readable table'.*year=2021/loop links back"):
        load_market(root)


def _csv_market(tmp_path: Path) -> Path:
    return write_tables(tiny_tables(), tmp_path / "m", "csv")


def _edit_csv(path: Path, column: str, row: int, value: str) -> None:
    df = pd.read_csv(path, dtype=str)
    df.loc[row, column] = value
    df.to_csv(path, index=False)


@pytest.mark.parametrize(("table", "column", "value", "rule"), [
    ("daily_bars", "close", "abc", "type float"),
    ("daily_bars", "date", "03/04/2021", "type date"),
    ("daily_bars", "st", "maybe", "type bool"),
    ("holders", "holder_count", "12.5", "type int"),
    ("securities", "list_date", "yesterday", "type date"),
])
def test_wrong_type_names_table_column_and_row(tmp_path: Path, table: str, column: str, value: str, rule: str) -> None:
    root = _csv_market(tmp_path)
    _edit_csv(root / f"{table}.csv", column, 1, value)
    with pytest.raises(MarketDataError) as info:
        load_market(root)
    err = info.value
    assert (err.table, err.column, err.rule) == (table, column, rule)
    assert err.count == 1 and len(err.rows) == 1
    symbol = pd.read_csv(root / f"{table}.csv", dtype=str).loc[1, "symbol"]
    assert err.rows[0][0] == symbol


def test_numeric_symbol_in_parquet_is_a_wrong_type(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["holders"]["symbol"] = [1, 1, 2]
    with pytest.raises(MarketDataError, match=r"holders.symbol: rule 'type string'.*found int64"):
        load_market(write_tables(tables, tmp_path / "m"))


def test_timestamps_with_time_of_day_are_refused(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"]["date"] = tables["daily_bars"]["date"] + pd.Timedelta(hours=15)
    with pytest.raises(MarketDataError, match=r"daily_bars.date: rule 'type date'.*time of day"):
        load_market(write_tables(tables, tmp_path / "m"))


def test_violations_are_collected_not_just_the_first(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"].loc[0, "volume"] = -1.0
    tables["holders"].loc[0, "top10_ratio"] = 1.5
    with pytest.raises(InvalidMarketError) as info:
        load_market(write_tables(tables, tmp_path / "m"))
    assert {(p.table, p.column) for p in info.value.problems} == {("daily_bars", "volume"), ("holders", "top10_ratio")}
