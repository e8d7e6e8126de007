"""The market partitioned by symbol: the layout a market takes when it outgrows one machine.

A partitioned market directory follows the data contract (``docs/data-contract.md``): every
table but ``securities`` is a directory of Parquet files, and the files are *parts*::

    <market-dir>/
      securities.parquet
      daily_bars/part-00000.parquet   part-00001.parquet ...
      fundamentals/part-00000.parquet ...   [optional table]
      holders/part-00000.parquet ...        [optional table]

Rules: all rows of a symbol, in every table, lie in the part of the same name (so part k of
``fundamentals`` holds the announcements of the symbols whose bars are in part k of
``daily_bars``; a part without announcements may be absent), and no symbol is in two parts.
Any reader of the contract loads it whole (:func:`market.load.load_market`); a Dask worker
loads one part at a time (:func:`load_part`), with its securities only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from market.atomic import atomic_path
from market.contract import TABLES
from market.errors import MarketDataError
from market.load import TABLE_ATTR, Market, market_from_tables
from market.reader import read_table_at

PARTITIONED = ("daily_bars", "fundamentals", "holders")
CARRIED = ("ground_truth.parquet", "simulation.json")  # a simulated market's files outside the contract


@dataclass(frozen=True)
class PartitionedMarket:
    """A partitioned market as the client of a cluster knows it, without its bars: the parts,
    every security (sorted by symbol), the trading calendar and the number of bars."""

    source: Path
    parts: list[str]
    securities: pd.DataFrame
    calendar: pd.DatetimeIndex
    bars: int

    @property
    def symbols(self) -> pd.Index:
        """Every symbol in securities order (a symbol's position is its code across parts)."""
        return pd.Index(self.securities["symbol"].astype("str"))

    def summary(self) -> str:
        """One line: symbols, stock-days, date range, parts."""
        cal = self.calendar
        return (f"{len(self.securities)} symbols, {self.bars} stock-days, {cal[0]:%Y-%m-%d}..{cal[-1]:%Y-%m-%d}, "
                f"{len(self.parts)} parts by symbol")


def _scan(market_dir: str, part: str) -> tuple[np.ndarray, np.ndarray, int]:
    """A part's trading days, symbols and number of bars, read from two columns only."""
    bars = pd.read_parquet(Path(market_dir) / "daily_bars" / part, columns=["symbol", "date"])
    return (np.unique(bars["date"].to_numpy(dtype="datetime64[ns]")), pd.unique(bars["symbol"].astype("str")),
            len(bars))


def open_partitioned(market_dir: str | Path) -> PartitionedMarket:
    """Scan a partitioned market on the active Dask scheduler (two columns of each part, in
    parallel). Raises :class:`MarketDataError` for a directory that is not partitioned or a
    symbol found in two parts (naming both); each part's rows are checked when it is loaded."""
    import dask

    root = Path(market_dir)
    parts = part_names(root)
    securities = read_table_at(root / "securities.parquet", TABLES["securities"])
    securities = securities.sort_values("symbol", kind="stable").reset_index(drop=True)
    scans = dask.compute(*[dask.delayed(_scan)(str(root), p) for p in parts])
    owner: dict[str, str] = {}
    for part, (_, names, _) in zip(parts, scans, strict=True):
        for name in names:
            if name in owner:
                raise MarketDataError("daily_bars", "symbol", "partitioned by symbol",
                                      detail=f"{name} is in {owner[name]} and in {part}")
            owner[name] = part
    unknown = sorted(set(owner) - set(securities["symbol"]))
    if unknown:
        raise MarketDataError("daily_bars", "symbol", "symbol in securities", [(unknown[0], "-")], count=len(unknown),
                              detail=f"in {owner[unknown[0]]}")
    calendar = pd.DatetimeIndex(np.unique(np.concatenate([d for d, _, _ in scans])), name="date")
    first = {part: min(names) for part, (_, names, _) in zip(parts, scans, strict=True)}
    ordered = sorted(parts, key=lambda p: first[p])  # parts in symbol order: bars in the whole market's order
    return PartitionedMarket(root, ordered, securities, calendar, int(sum(n for _, _, n in scans)))


def write_partitioned(market: Market, out: str | Path, parts: int) -> Path:
    """Write ``market`` as ``parts`` parts of contiguous symbols with about equal bar counts
    (contract columns only, plus a simulated market's :data:`CARRIED` files; atomically: a kill
    leaves no half-written market)."""
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    symbols = market.securities["symbol"].astype("str").to_numpy()
    rows = np.bincount(market.bars["symbol"].cat.codes.to_numpy(), minlength=len(symbols))
    cut = np.searchsorted(np.cumsum(rows), np.linspace(0, rows.sum(), parts + 1)[1:-1], side="right")
    groups = [g for g in np.split(np.arange(len(symbols)), cut) if len(g)]
    out = Path(out)
    with atomic_path(out, directory=True) as tmp:
        for name, spec in TABLES.items():
            table = getattr(market, TABLE_ATTR[name])
            if table is None:
                continue
            frame = table[[c.name for c in spec.columns if c.name in table.columns]].copy()
            if name == "securities":
                frame.to_parquet(tmp / "securities.parquet", index=False)
                continue
            (tmp / name).mkdir()
            codes = frame["symbol"].cat.codes.to_numpy()
            frame["symbol"] = frame["symbol"].astype("str")
            for k, group in enumerate(groups):
                rows_k = (codes >= group[0]) & (codes <= group[-1])
                if rows_k.any() or name == "daily_bars":
                    frame[rows_k].to_parquet(tmp / name / f"part-{k:05d}.parquet", index=False)
        for carried in CARRIED:
            if (Path(market.source) / carried).is_file():
                shutil.copy2(Path(market.source) / carried, tmp / carried)
    return out


def part_names(market_dir: str | Path) -> list[str]:
    """The parts of a partitioned market (the file names of ``daily_bars/``), in order.

    Raises :class:`MarketDataError` when the directory is not partitioned (``daily_bars`` is
    not a directory of ``part-*.parquet`` files) or an optional table holds a part that
    ``daily_bars`` lacks."""
    root = Path(market_dir)
    bars = root / "daily_bars"
    names = sorted(p.name for p in bars.glob("part-*.parquet")) if bars.is_dir() else []
    if not names:
        raise MarketDataError("daily_bars", None, "partitioned by symbol",
                              detail=f"{bars} is not a directory of part-*.parquet files "
                                     "(write one with `spotlight partition`)")
    for table in PARTITIONED[1:]:
        folder = root / table
        if folder.is_dir():
            extra = sorted(p.name for p in folder.glob("part-*.parquet") if p.name not in names)
            if extra:
                raise MarketDataError(table, None, "partitioned by symbol",
                                      detail=f"{folder} holds {extra[0]}, a part daily_bars lacks")
    return names


def load_part(market_dir: str | Path, part: str, securities: pd.DataFrame | None = None) -> Market:
    """One part as a validated :class:`Market` holding only its own symbols (the other
    symbols' securities rows are dropped, so its symbol codes are local to the part).

    ``securities`` (the whole table, typed) saves re-reading it for every part."""
    root = Path(market_dir)
    if securities is None:
        securities = read_table_at(root / "securities.parquet", TABLES["securities"])
    tables: dict[str, pd.DataFrame | None] = {}
    for table in PARTITIONED:
        path = root / table / part
        if path.exists():
            tables[table] = read_table_at(path, TABLES[table])
        elif table == "daily_bars":
            raise MarketDataError("daily_bars", None, "partitioned by symbol", detail=f"no part {path}")
        else:  # a part without announcements: the table's columns, no rows (None if it has no parts)
            others = sorted((root / table).glob("part-*.parquet")) if (root / table).is_dir() else []
            tables[table] = read_table_at(others[0], TABLES[table]).iloc[:0] if others else None
    present = pd.unique(pd.concat([t["symbol"] for name, t in tables.items() if t is not None]))
    tables["securities"] = securities[securities["symbol"].isin(present)].reset_index(drop=True)
    return market_from_tables(tables, source=root / "daily_bars" / part)
