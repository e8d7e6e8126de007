"""The market-data contract (docs/data-contract.md) as data: tables, columns, types and rules.

Everything that reads a market directory takes its column list, types and optionality from
here, so the reader, the validator and the documentation cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "date", "float", "int", "bool"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    ``required``: the column must be present. ``nullable``: present values may be missing
    (null/NaN). ``default``: value filled when an optional column is absent (None: missing).
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    default: object = None


@dataclass(frozen=True)
class TableSpec:
    """A contract table: its columns, primary key and the date column used to name rows."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    row_date: str | None
    required: bool = True
    description: str = ""


SECURITIES = TableSpec(
    name="securities",
    description="one row per security",
    key=("symbol",),
    row_date="list_date",
    columns=(
        ColumnSpec("symbol", "string"),
        ColumnSpec("list_date", "date"),
        ColumnSpec("delist_date", "date", nullable=True),
        ColumnSpec("name", "string", required=False, nullable=True),
        ColumnSpec("board", "string", required=False, nullable=True),
        ColumnSpec("industry", "string", required=False, nullable=True),
    ),
)

DAILY_BARS = TableSpec(
    name="daily_bars",
    description="one row per security per trading day it was listed",
    key=("symbol", "date"),
    row_date="date",
    columns=(
        ColumnSpec("symbol", "string"),
        ColumnSpec("date", "date"),
        ColumnSpec("open", "float"),
        ColumnSpec("high", "float"),
        ColumnSpec("low", "float"),
        ColumnSpec("close", "float"),
        ColumnSpec("volume", "float"),
        ColumnSpec("amount", "float"),
        ColumnSpec("adj_factor", "float"),
        ColumnSpec("shares_total", "float"),
        ColumnSpec("shares_float", "float"),
        ColumnSpec("st", "bool", required=False, default=False),
        ColumnSpec("limit_up", "float", required=False, nullable=True),
        ColumnSpec("limit_down", "float", required=False, nullable=True),
    ),
)

FUNDAMENTALS = TableSpec(
    name="fundamentals",
    description="one row per security per reported period (point-in-time)",
    key=("symbol", "period_end"),
    row_date="period_end",
    required=False,
    columns=(
        ColumnSpec("symbol", "string"),
        ColumnSpec("period_end", "date"),
        ColumnSpec("announce_date", "date"),
        ColumnSpec("net_income_ttm", "float", nullable=True),
        ColumnSpec("revenue_ttm", "float", nullable=True),
        ColumnSpec("book_equity", "float", nullable=True),
        ColumnSpec("operating_cash_flow_ttm", "float", required=False, nullable=True),
    ),
)

HOLDERS = TableSpec(
    name="holders",
    description="one row per security per shareholder disclosure (point-in-time)",
    key=("symbol", "period_end"),
    row_date="period_end",
    required=False,
    columns=(
        ColumnSpec("symbol", "string"),
        ColumnSpec("period_end", "date"),
        ColumnSpec("announce_date", "date"),
        ColumnSpec("holder_count", "int"),
        ColumnSpec("top10_ratio", "float"),
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (SECURITIES, DAILY_BARS, FUNDAMENTALS, HOLDERS)}
"""Contract tables by name, in load order (securities first: the others refer to it)."""
