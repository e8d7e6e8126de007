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
from market.partitioned import PARTITIONED, PartitionedMarket, load_part

BATCH = 8  # parts whose row hashes the client holds at once


def fingerprint(market: Market | PartitionedMarket) -> dict[str, str | int]:
    """``hash`` (see the module docstring), ``start``, ``end``, ``stocks`` and ``bars``.

    A partitioned market is hashed part by part on the active Dask scheduler, the client
    holding the row hashes of :data:`BATCH` parts at a time; parts of contiguous symbols (as
    ``spotlight partition`` writes them) give the hash of the same market loaded whole."""
    if isinstance(market, PartitionedMarket):
        return _fingerprint_parts(market)
    digest = hashlib.sha256()
    for name in TABLES:
        table = getattr(market, TABLE_ATTR[name], None)
        if table is None:
            continue
        _update(digest, name, _columns(table, name), _hashes(table, name))
    return _figures(digest, market.calendar, len(market.securities), len(market.bars))


def _columns(table: pd.DataFrame, name: str) -> list[str]:
    return [c.name for c in TABLES[name].columns if c.name in table.columns]


def _hashes(table: pd.DataFrame, name: str) -> bytes:
    return pd.util.hash_pandas_object(table[_columns(table, name)], index=False).to_numpy().tobytes()


def _update(digest: hashlib._Hash, name: str, columns: list[str], hashes: bytes) -> None:
    digest.update(name.encode())
    digest.update(",".join(columns).encode())
    digest.update(hashes)


def _figures(digest: hashlib._Hash, cal: pd.DatetimeIndex, stocks: int, bars: int) -> dict[str, str | int]:
    return {"hash": digest.hexdigest(), "start": f"{cal[0]:%Y-%m-%d}", "end": f"{cal[-1]:%Y-%m-%d}",
            "stocks": int(stocks), "bars": int(bars)}


def _part_hashes(root: str, part: str) -> dict[str, tuple[list[str], bytes] | None]:
    market = load_part(root, part)
    out: dict[str, tuple[list[str], bytes] | None] = {}
    for name in PARTITIONED:
        table = getattr(market, TABLE_ATTR[name])
        out[name] = None if table is None else (_columns(table, name), _hashes(table, name))
    return out


def _fingerprint_parts(market: PartitionedMarket) -> dict[str, str | int]:
    import dask

    digest = hashlib.sha256()
    _update(digest, "securities", _columns(market.securities, "securities"), _hashes(market.securities, "securities"))
    tasks = [dask.delayed(_part_hashes)(str(market.source), part) for part in market.parts]
    later: dict[str, tuple[list[str], list[bytes]]] = {}  # announcements: a small share of the rows
    header = False
    for start in range(0, len(tasks), BATCH):
        for hashed in dask.compute(*tasks[start:start + BATCH]):
            bars = hashed["daily_bars"]
            assert bars is not None  # every part has bars (load_part)
            if not header:
                digest.update(b"daily_bars")
                digest.update(",".join(bars[0]).encode())
                header = True
            digest.update(bars[1])
            for name in PARTITIONED[1:]:
                got = hashed[name]
                if got is not None:
                    later.setdefault(name, (got[0], []))[1].append(got[1])
    for name in PARTITIONED[1:]:
        if name in later:
            _update(digest, name, later[name][0], b"".join(later[name][1]))
    return _figures(digest, market.calendar, len(market.securities), market.bars)
