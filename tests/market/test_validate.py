"""Each contract rule has a broken directory that is refused with table, column, rule and row named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market import InvalidMarketError, MarketDataError, load_market
from tests.helpers import tiny_tables, write_tables

Tables = dict[str, pd.DataFrame]


def _set(table: str, column: str, value: object, row: int = 1) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table][column] = t[table][column].astype(object) if value is None else t[table][column]
        t[table].loc[t[table].index[row], column] = value
    return edit


def _duplicate(table: str, row: int = 1) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table] = pd.concat([t[table], t[table].iloc[[row]]], ignore_index=True)
    return edit


def _drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table] = t[table].drop(columns=[column])
    return edit


# (id, edit, table, column, rule, offending (symbol, date) or None when no row applies)
CASES = [
    ("securities-symbol-empty", _set("securities", "symbol", "  ", 2), "securities", "symbol", "non-empty", None),
    ("securities-symbol-unique", _duplicate("securities", 1), "securities", "symbol", "unique (symbol)", ("BBB", "2015-06-01")),
    ("securities-list_date-missing", _set("securities", "list_date", pd.NaT, 0), "securities", "list_date", "not missing", ("AAA", "-")),
    ("securities-delist-before-list", _set("securities", "delist_date", pd.Timestamp("2009-01-01"), 0), "securities",
     "delist_date", "delist_date >= list_date", ("AAA", "2010-01-04")),
    ("securities-column-missing", _drop_column("securities", "list_date"), "securities", "list_date", "required column present", None),
    ("bars-unique", _duplicate("daily_bars", 3), "daily_bars", "symbol, date", "unique (symbol, date)", ("AAA", "2021-03-04")),
    ("bars-symbol-unknown", _set("daily_bars", "symbol", "ZZZ", 0), "daily_bars", "symbol", "symbol in securities", ("ZZZ", "2021-03-01")),
    *[(f"bars-{c}-positive", _set("daily_bars", c, 0.0 if c != "low" else -1.0, 2), "daily_bars", c,
       "> 0", ("AAA", "2021-03-03")) for c in ("adj_factor", "shares_total")],
    ("bars-open-positive", _set("daily_bars", "open", -3.0, 2), "daily_bars", "open", "> 0", ("AAA", "2021-03-03")),
    ("bars-close-positive", _set("daily_bars", "close", 0.0, 2), "daily_bars", "close", "> 0", ("AAA", "2021-03-03")),
    ("bars-low-positive", _set("daily_bars", "low", -1.0, 2), "daily_bars", "low", "> 0", ("AAA", "2021-03-03")),
    ("bars-high-positive", _set("daily_bars", "high", -1.0, 2), "daily_bars", "high", "> 0", ("AAA", "2021-03-03")),
    ("bars-float-positive", _set("daily_bars", "shares_float", 0.0, 2), "daily_bars", "shares_float", "> 0", ("AAA", "2021-03-03")),
    ("bars-low-above-open", _set("daily_bars", "low", 12.5, 2), "daily_bars", "low", "low <= open, close", ("AAA", "2021-03-03")),
    ("bars-close-above-high", _set("daily_bars", "close", 12.5, 2), "daily_bars", "high", "open, close <= high", ("AAA", "2021-03-03")),
    ("bars-volume-negative", _set("daily_bars", "volume", -5.0, 4), "daily_bars", "volume", ">= 0", ("AAA", "2021-03-05")),
    ("bars-amount-negative", _set("daily_bars", "amount", -5.0, 4), "daily_bars", "amount", ">= 0", ("AAA", "2021-03-05")),
    ("bars-float-above-total", _set("daily_bars", "shares_float", 3e6, 1), "daily_bars", "shares_float",
     "shares_float <= shares_total", ("AAA", "2021-03-02")),
    ("bars-close-missing", _set("daily_bars", "close", np.nan, 1), "daily_bars", "close", "not missing", ("AAA", "2021-03-02")),
    ("bars-close-infinite", _set("daily_bars", "high", np.inf, 1), "daily_bars", "high", "finite", ("AAA", "2021-03-02")),
    ("bars-st-missing", _set("daily_bars", "st", None, 1), "daily_bars", "st", "not missing", ("AAA", "2021-03-02")),
    ("bars-column-missing", _drop_column("daily_bars", "adj_factor"), "daily_bars", "adj_factor", "required column present", None),
    ("bars-before-listing", _set("daily_bars", "date", pd.Timestamp("2021-03-01"), 11), "daily_bars", "date",
     "date >= securities.list_date", ("CCC", "2021-03-01")),
    ("bars-after-delisting", _set("daily_bars", "date", pd.Timestamp("2021-03-09"), 14), "daily_bars", "date",
     "date <= securities.delist_date", ("CCC", "2021-03-09")),
    ("fund-unique", _duplicate("fundamentals", 0), "fundamentals", "symbol, period_end", "unique (symbol, period_end)", ("AAA", "2020-09-30")),
    ("fund-announce-before-period", _set("fundamentals", "announce_date", pd.Timestamp("2020-09-01"), 0), "fundamentals",
     "announce_date", "announce_date >= period_end", ("AAA", "2020-09-30")),
    ("fund-revenue-negative", _set("fundamentals", "revenue_ttm", -1.0, 3), "fundamentals", "revenue_ttm", ">= 0", ("BBB", "2020-12-31")),
    ("fund-symbol-unknown", _set("fundamentals", "symbol", "ZZZ", 3), "fundamentals", "symbol", "symbol in securities", ("ZZZ", "2020-12-31")),
    ("fund-announce-missing", _set("fundamentals", "announce_date", pd.NaT, 1), "fundamentals", "announce_date", "not missing", ("AAA", "2020-12-31")),
    ("holders-count-positive", _set("holders", "holder_count", 0, 2), "holders", "holder_count", "> 0", ("BBB", "2020-12-31")),
    ("holders-top10-range", _set("holders", "top10_ratio", 1.2, 0), "holders", "top10_ratio", "in [0, 1]", ("AAA", "2020-09-30")),
    ("holders-announce-before-period", _set("holders", "announce_date", pd.Timestamp("2020-12-01"), 1), "holders",
     "announce_date", "announce_date >= period_end", ("AAA", "2020-12-31")),
    ("holders-unique", _duplicate("holders", 1), "holders", "symbol, period_end", "unique (symbol, period_end)", ("AAA", "2020-12-31")),
    ("holders-count-missing", _set("holders", "holder_count", np.nan, 1), "holders", "holder_count", "not missing", ("AAA", "2020-12-31")),
]


@pytest.mark.parametrize(("edit", "table", "column", "rule", "row"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_directory_is_refused_naming_the_rule(tmp_path: Path, edit, table, column, rule, row) -> None:
    tables = tiny_tables()
    edit(tables)
    root = write_tables(tables, tmp_path / "m")
    with pytest.raises((InvalidMarketError, MarketDataError)) as info:
        load_market(root)
    problems = info.value.problems if isinstance(info.value, InvalidMarketError) else [info.value]
    matching = [p for p in problems if (p.table, p.column, p.rule) == (table, column, rule)]
    assert matching, f"expected {table}.{column} '{rule}', got: {[p.message for p in problems]}"
    if row is not None:
        assert row in matching[0].rows, matching[0].message
    assert f"{table}.{column}: rule '{rule}' violated" in str(info.value)


def test_clean_directory_passes(tiny_dir: Path) -> None:
    market = load_market(tiny_dir)
    assert market.summary() == "3 symbols, 15 stock-days, 2021-03-01..2021-03-08, tables: securities, daily_bars, fundamentals, holders"


def test_optional_value_columns_may_hold_missing_values(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["fundamentals"].loc[:, ["net_income_ttm", "book_equity"]] = np.nan
    tables["daily_bars"].loc[:, ["limit_up", "limit_down"]] = np.nan
    load_market(write_tables(tables, tmp_path / "m"))


def test_at_most_five_rows_are_listed_with_the_total(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"]["amount"] = -1.0
    with pytest.raises(InvalidMarketError) as info:
        load_market(write_tables(tables, tmp_path / "m"))
    (problem,) = info.value.problems
    assert problem.count == 15 and len(problem.rows) == 5
    assert "and 10 more" in problem.message


@pytest.mark.parametrize("table", ["securities", "daily_bars"])
def test_a_required_table_without_rows_is_one_named_violation(table: str, tmp_path: Path) -> None:
    tables = tiny_tables()
    tables[table] = tables[table].iloc[:0]
    with pytest.raises(InvalidMarketError) as info:
        load_market(write_tables(tables, tmp_path / "m"))
    (problem,) = info.value.problems
    assert (problem.table, problem.column, problem.rule) == (table, None, "at least one row")
    assert "the table is empty" in str(info.value)
