"""Write a market back out as contract tables (Parquet), e.g. the market as known on a past day.

Only contract columns are written (derived columns are rebuilt on load). Securities listed
after the market's last trading day are dropped: on that day they were not yet known. Written
into a temporary sibling directory and renamed into place, so nothing half-written is left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from market.contract import TABLES
from market.load import TABLE_ATTR, Market


def write_market_tables(market: Market, out: str | Path) -> Path:
    """``out`` holds one ``<table>.parquet`` per table the market has; replaced if present."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    last = market.calendar[-1]
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
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
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():
            os.replace(out, old)  # aside first: a kill now still leaves one whole market
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
