"""Write a market back out as contract tables (Parquet), e.g. the market as known on a past day.

Only contract columns are written (derived columns are rebuilt on load). Securities listed
after the market's last trading day are dropped: on that day they were not yet known. Written
atomically (:mod:`market.atomic`), so nothing half-written is left.
"""

from __future__ import annotations

from pathlib import Path

from market.atomic import atomic_path
from market.contract import TABLES
from market.load import TABLE_ATTR, Market


def write_market_tables(market: Market, out: str | Path) -> Path:
    """``out`` holds one ``<table>.parquet`` per table the market has; replaced if present."""
    out = Path(out)
    last = market.calendar[-1]
    with atomic_path(out, directory=True) as tmp:  # a kill leaves one whole market, never half of one
        for name, spec in TABLES.items():
            table = getattr(market, TABLE_ATTR[name])
            if table is None:
                continue
            if name == "securities":
                table = table[table["list_date"] <= last]
            columns = [c.name for c in spec.columns if c.name in table.columns]
            frame = table[columns].copy()
            if "symbol" in frame:
                frame["symbol"] = frame["symbol"].astype("str")
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
    return out
