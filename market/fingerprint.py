"""A market's fingerprint: what a trained model was trained on, for tags and manifests.

``hash`` is the SHA-256 over the contract tables' content (each table's name and contract columns, then its rows
hashed with pandas' stable per-row hash in their loaded order), so the same data gives the
same hash whatever the file layout or compression; ``start``/``end`` are the first and last
trading days, plus the counts of stocks and bars.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from market.contract import TABLES
from market.load import TABLE_ATTR, Market


def fingerprint(market: Market) -> dict[str, str | int]:
    """``hash`` (see the module docstring), ``start``, ``end``, ``stocks`` and ``bars``."""
    digest = hashlib.sha256()
    for name, spec in TABLES.items():
        table = getattr(market, TABLE_ATTR[name], None)
        if table is None:
            continue
        table = table[[c.name for c in spec.columns if c.name in table.columns]]
        digest.update(name.encode())
        digest.update(",".join(map(str, table.columns)).encode())
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    cal = market.calendar
    return {"hash": digest.hexdigest(), "start": f"{cal[0]:%Y-%m-%d}", "end": f"{cal[-1]:%Y-%m-%d}",
            "stocks": int(len(market.securities)), "bars": int(len(market.bars))}
