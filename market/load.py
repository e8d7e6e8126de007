"""Load a market directory into the documented in-memory form, with the derived basics.

In-memory form (every table has a fresh RangeIndex; extra source columns are kept):

- ``securities``: sorted by ``symbol``. ``list_date``/``delist_date`` ``datetime64[ns]``
  (``delist_date`` NaT while listed); ``name``/``board``/``industry`` ``str`` (missing if absent).
- ``bars``: sorted by ``symbol`` then ``date``. ``symbol`` is categorical with the sorted
  securities symbols as categories (the same in every table); prices, volume, amount,
  shares, factors and limits ``float64``; ``st`` ``bool``. Derived, row by row (each uses
  that row only, so nothing looks ahead):

  * ``adj_open/high/low/close`` = price x ``adj_factor`` (total-return continuous prices)
  * ``market_cap`` = close x shares_total; ``float_cap`` = close x shares_float
  * ``turnover`` = volume / shares_float
  * ``suspended`` = volume == 0 (a suspended day may also be a missing row)
  * ``limit_up_locked`` / ``limit_down_locked``: the whole day traded at the limit
    (low >= limit_up, or high <= limit_down, within 0.5 bp); False where limits are absent
  * ``tradable`` = not suspended and not limit-locked
- ``fundamentals`` / ``holders``: sorted by ``symbol``, ``announce_date``, ``period_end``;
  None when the directory has no such table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from market.contract import TABLES
from market.errors import InvalidMarketError, MarketDataError
from market.reader import read_table, type_columns
from market.validate import check_market

LIMIT_TOLERANCE = 0.5e-4  # relative: a price within 0.5 bp of a limit is at the limit


@dataclass(frozen=True)
class Market:
    """A validated market in memory (see the module docstring for the form)."""

    source: Path
    securities: pd.DataFrame
    bars: pd.DataFrame
    fundamentals: pd.DataFrame | None
    holders: pd.DataFrame | None

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Trading days: every date with at least one bar, ascending."""
        return pd.DatetimeIndex(np.unique(self.bars["date"].to_numpy()), name="date")

    def until(self, day: str | pd.Timestamp) -> Market:
        """The market as known at the close of ``day``: bars dated after it removed,
        fundamentals/holders announced after it removed, later delistings unknown."""
        t = pd.Timestamp(day)
        securities = self.securities.copy()
        securities.loc[securities["delist_date"] > t, "delist_date"] = pd.NaT

        def known(df: pd.DataFrame | None, column: str) -> pd.DataFrame | None:
            return None if df is None else df[df[column] <= t].reset_index(drop=True)

        return Market(self.source, securities, known(self.bars, "date"),
                      known(self.fundamentals, "announce_date"), known(self.holders, "announce_date"))

    @property
    def tables_found(self) -> list[str]:
        """The contract tables present in this market, in contract order."""
        return [name for name in TABLES if getattr(self, TABLE_ATTR[name]) is not None]

    def summary(self) -> str:
        """One line: symbols, stock-days, date range, tables found."""
        cal = self.calendar
        span = f"{cal[0]:%Y-%m-%d}..{cal[-1]:%Y-%m-%d}" if len(cal) else "no dates"
        absent = [n for n in TABLES if n not in self.tables_found]
        tail = f" ({', '.join(absent)} absent)" if absent else ""
        return (f"{len(self.securities)} symbols, {len(self.bars)} stock-days, {span}, "
                f"tables: {', '.join(self.tables_found)}{tail}")


TABLE_ATTR = {  # contract table name -> Market attribute
    "securities": "securities", "daily_bars": "bars", "fundamentals": "fundamentals", "holders": "holders"}


def read_tables(path: str | Path) -> dict[str, pd.DataFrame | None]:
    """Read and type every contract table of a market directory (absent optional tables: None)."""
    market_dir = Path(path)
    if not market_dir.exists():
        raise MarketDataError(str(market_dir), None, "market directory exists", detail="no such directory")
    if not market_dir.is_dir():
        raise MarketDataError(str(market_dir), None, "market directory exists", detail="not a directory")
    return {name: read_table(market_dir, spec) for name, spec in TABLES.items()}


def validate_market(path: str | Path) -> dict[str, pd.DataFrame | None]:
    """Read and check every rule; raises :class:`InvalidMarketError` listing each violation."""
    tables = read_tables(path)
    problems = check_market(tables)
    if problems:
        raise InvalidMarketError(str(path), problems)
    return tables


def load_market(path: str | Path) -> Market:
    """Validate a market directory and return it in the documented in-memory form."""
    return market_from_tables(validate_market(path), source=path, validate=False)


def market_from_tables(tables: dict[str, pd.DataFrame | None], source: str | Path = "<memory>",
                       *, validate: bool = True) -> Market:
    """The in-memory form of contract tables given as DataFrames (absent optional tables: None
    or left out).

    With ``validate`` (the default) the tables are typed like files are (absent optional
    columns filled) and every contract rule is checked, raising :class:`MarketDataError` /
    :class:`InvalidMarketError`; pass False only for tables :func:`validate_market` returned.
    """
    if validate:
        tables = {name: None if tables.get(name) is None else type_columns(tables[name], spec)
                  for name, spec in TABLES.items()}
        problems = check_market(tables)
        if problems:
            raise InvalidMarketError(str(source), problems)
    given = tables["securities"]
    if given is None:
        raise MarketDataError("securities", None, "the table is required")
    securities = given.sort_values("symbol", kind="stable").reset_index(drop=True)
    symbols = pd.CategoricalDtype(securities["symbol"].to_numpy(), ordered=True)
    bars = _with_symbol(tables["daily_bars"], symbols, "date")
    return Market(
        source=Path(source),
        securities=securities,
        bars=derive_basics(bars, inplace=True),
        fundamentals=_with_symbol(tables["fundamentals"], symbols, "announce_date", "period_end"),
        holders=_with_symbol(tables["holders"], symbols, "announce_date", "period_end"),
    )


def _with_symbol(df: pd.DataFrame | None, symbols: pd.CategoricalDtype, *order: str) -> pd.DataFrame | None:
    if df is None:
        return None
    out = df.assign(symbol=df["symbol"].astype(symbols))  # copy-on-write: no deep copy here
    return out.sort_values(["symbol", *order], kind="stable").reset_index(drop=True)


def derive_basics(bars: pd.DataFrame, *, inplace: bool = False) -> pd.DataFrame:
    """Add the derived columns listed in the module docstring (row-wise, no look-ahead).

    Works on a copy unless ``inplace`` (for a frame the caller owns)."""
    out = bars if inplace else bars.copy()
    for price in ("open", "high", "low", "close"):
        out[f"adj_{price}"] = out[price] * out["adj_factor"]
    out["market_cap"] = out["close"] * out["shares_total"]
    out["float_cap"] = out["close"] * out["shares_float"]
    out["turnover"] = out["volume"] / out["shares_float"]
    out["suspended"] = out["volume"].to_numpy() == 0
    up, down = out["limit_up"].to_numpy(), out["limit_down"].to_numpy()
    with np.errstate(invalid="ignore"):
        out["limit_up_locked"] = out["low"].to_numpy() >= up * (1 - LIMIT_TOLERANCE)
        out["limit_down_locked"] = out["high"].to_numpy() <= down * (1 + LIMIT_TOLERANCE)
    out["tradable"] = ~(out["suspended"] | out["limit_up_locked"] | out["limit_down_locked"])
    return out
