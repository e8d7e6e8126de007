"""Check typed contract tables against every rule of docs/data-contract.md.

Value rules per table run as pandera schemas (lazy: every violation is collected); rules
across tables (symbols known to ``securities``, bars inside the listing window) run after.
Each violation becomes one :class:`MarketDataError` naming table, column, rule and rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from market.contract import DAILY_BARS, FUNDAMENTALS, HOLDERS, SECURITIES, TableSpec
from market.errors import MarketDataError
from market.reader import rows_at

Rule = tuple[str, str, Callable[[pd.DataFrame], pd.Series]]
"""(column named in the message, rule text, row-wise check returning True where the row passes)."""


def _present_and(col: str, test: Callable[[pd.Series], pd.Series]) -> Callable[[pd.DataFrame], pd.Series]:
    """A rule on a nullable column applies to the values present (missing passes)."""
    return lambda df: df[col].isna() | test(df[col])


_FINITE = "finite"

_RULES: dict[str, list[Rule]] = {
    "securities": [
        ("symbol", "non-empty", lambda df: df["symbol"].isna() | (df["symbol"].str.strip().str.len() > 0)),
        ("delist_date", "delist_date >= list_date",
         lambda df: df["delist_date"].isna() | (df["delist_date"] >= df["list_date"])),
    ],
    "daily_bars": [
        *[(c, "> 0", _present_and(c, lambda s: s > 0))
          for c in ("open", "high", "low", "close", "adj_factor", "shares_total", "shares_float")],
        *[(c, ">= 0", _present_and(c, lambda s: s >= 0)) for c in ("volume", "amount")],
        ("low", "low <= open, close", lambda df: (df["low"] <= df["open"]) & (df["low"] <= df["close"])),
        ("high", "open, close <= high", lambda df: (df["open"] <= df["high"]) & (df["close"] <= df["high"])),
        ("shares_float", "shares_float <= shares_total", lambda df: df["shares_float"] <= df["shares_total"]),
    ],
    "fundamentals": [
        ("announce_date", "announce_date >= period_end", lambda df: df["announce_date"] >= df["period_end"]),
        ("revenue_ttm", ">= 0", _present_and("revenue_ttm", lambda s: s >= 0)),
    ],
    "holders": [
        ("announce_date", "announce_date >= period_end", lambda df: df["announce_date"] >= df["period_end"]),
        ("holder_count", "> 0", lambda df: df["holder_count"] > 0),
        ("top10_ratio", "in [0, 1]", lambda df: (df["top10_ratio"] >= 0) & (df["top10_ratio"] <= 1)),
    ],
}


def _schema(spec: TableSpec) -> pa.DataFrameSchema:
    columns = {}
    for col in spec.columns:
        checks = []
        if col.kind == "float":
            checks.append(pa.Check(lambda s: s.isna() | np.isfinite(s), name=_FINITE))
        columns[col.name] = pa.Column(nullable=col.nullable, checks=checks, required=False)
    checks = [pa.Check(fn, name=f"{column}|{rule}") for column, rule, fn in _RULES[spec.name]]
    unique = list(spec.key)
    return pa.DataFrameSchema(columns=columns, checks=checks, unique=unique, report_duplicates="all")


def check_table(df: pd.DataFrame, spec: TableSpec) -> list[MarketDataError]:
    """Every single-table rule violated by ``df`` (typed by :mod:`market.reader`)."""
    try:
        _schema(spec).validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    problems: list[MarketDataError] = []
    key_col = spec.key[0]
    for (context, column, check), group in cases.groupby(["schema_context", "column", "check"], sort=False, dropna=False):
        check = str(check)
        if context == "DataFrameSchema" and check == "multiple_fields_uniqueness":
            if column != key_col:
                continue
            column, rule = ", ".join(spec.key), "unique (" + ", ".join(spec.key) + ")"
        elif context == "DataFrameSchema" and "|" in check:
            named, rule = check.split("|", 1)
            if column != named:
                continue
        elif check == "not_nullable":
            rule = "not missing"
        elif check == "column_in_dataframe":
            rule = "required column present"
        else:
            rule = check
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype("int64").unique()
        index.sort()
        problems.append(MarketDataError(spec.name, str(column), rule, rows_at(df, spec, index), count=len(index)))
    return problems


def check_references(tables: dict[str, pd.DataFrame]) -> list[MarketDataError]:
    """Rules across tables: every symbol is in securities; bars lie inside the listing window."""
    securities = tables["securities"].drop_duplicates("symbol").set_index("symbol")
    problems: list[MarketDataError] = []
    for spec in (DAILY_BARS, FUNDAMENTALS, HOLDERS):
        df = tables.get(spec.name)
        if df is None:
            continue
        unknown = ~df["symbol"].isin(securities.index).to_numpy()
        if unknown.any():
            index = np.flatnonzero(unknown)
            problems.append(MarketDataError(spec.name, "symbol", "symbol in securities", rows_at(df, spec, index), count=len(index)))
    bars = tables["daily_bars"]
    listed = bars["symbol"].map(securities["list_date"])
    delisted = bars["symbol"].map(securities["delist_date"])
    before = (bars["date"] < listed).to_numpy()
    after = (delisted.notna() & (bars["date"] > delisted)).to_numpy()
    for mask, rule in ((before, "date >= securities.list_date"), (after, "date <= securities.delist_date")):
        if mask.any():
            index = np.flatnonzero(mask)
            problems.append(MarketDataError("daily_bars", "date", rule, rows_at(bars, DAILY_BARS, index), count=len(index)))
    return problems


def check_market(tables: dict[str, pd.DataFrame]) -> list[MarketDataError]:
    """All violations in a set of typed tables (absent optional tables are skipped; a required
    table without rows is one violation, and the cross-table rules are then not checked)."""
    problems: list[MarketDataError] = []
    for spec in (SECURITIES, DAILY_BARS, FUNDAMENTALS, HOLDERS):
        table = tables.get(spec.name)
        if table is None:
            continue
        if spec.required and table.empty:  # nothing to rank: no stock, or no trading day
            problems.append(MarketDataError(spec.name, None, "at least one row", detail="the table is empty"))
            continue
        problems += check_table(table, spec)
    if not any(p.rule == "at least one row" for p in problems):
        problems += check_references(tables)
    return problems
