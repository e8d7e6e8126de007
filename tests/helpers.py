"""Builders shared by tests in several folders: hand-made markets with known answers, small
simulated markets, a real service's process handling, and small configurations.

Fixtures stay in the ``conftest.py`` files; what a test module needs from another folder comes
from here, never from another test module.
"""

from __future__ import annotations

import signal as signals
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from matplotlib.figure import Figure

from features.universe import UniverseConfig
from market.load import Market, load_market, market_from_tables

# --- contract tables ---------------------------------------------------------------------------

def tiny_tables() -> dict[str, pd.DataFrame]:
    """Three stocks over six trading days, every table, every optional column; contract-valid.

    AAA trades every day (a 2:1 split on day 4: adj_factor 1 -> 2); BBB is suspended on day 3
    (missing row) and day 4 (zero-volume row) and locked limit-up on day 6; CCC lists on
    day 2 and delists after day 5.
    """
    days = pd.to_datetime(["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04", "2021-03-05", "2021-03-08"])
    sec = pd.DataFrame({
        "symbol": ["AAA", "BBB", "CCC"],
        "list_date": pd.to_datetime(["2010-01-04", "2015-06-01", "2021-03-02"]),
        "delist_date": pd.to_datetime([None, None, "2021-03-05"]),
        "name": ["Alpha", "Beta", "Gamma"], "board": ["main", "chinext", "main"],
        "industry": ["banks", "media", None],
    })
    rows = []
    for i, d in enumerate(days):
        close = 10.0 + i if i < 3 else (10.0 + i) / 2
        rows.append(("AAA", d, close, close * 1.02, close * 0.98, close, 1000.0 * (i + 1), 1.0 if i < 3 else 2.0,
                     1e6 if i < 3 else 2e6, 5e5 if i < 3 else 1e6, False))
    for i, d in enumerate(days):
        if i == 2:
            continue
        vol = 0.0 if i == 3 else 500.0
        rows.append(("BBB", d, 5.0, 5.0, 5.0, 5.0, vol, 1.0, 2e6, 2e6, i >= 4))
    for d in days[1:5]:
        rows.append(("CCC", d, 3.0, 3.1, 2.9, 3.05, 200.0, 1.0, 4e5, 3e5, False))
    bars = pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close", "volume", "adj_factor",
                                       "shares_total", "shares_float", "st"])
    bars["amount"] = bars["volume"] * bars["close"]
    bars["limit_up"] = (bars["close"] * 1.1).round(2)
    bars["limit_down"] = (bars["close"] * 0.9).round(2)
    last = (bars["symbol"] == "BBB") & (bars["date"] == days[-1])
    bars.loc[last, ["open", "high", "low", "close"]] = 5.5
    bars.loc[last, "limit_up"] = 5.5
    bars = bars[["symbol", "date", "open", "high", "low", "close", "volume", "amount", "adj_factor",
                 "shares_total", "shares_float", "st", "limit_up", "limit_down"]]
    fundamentals = pd.DataFrame({
        "symbol": ["AAA", "AAA", "AAA", "BBB"],
        "period_end": pd.to_datetime(["2020-09-30", "2020-12-31", "2021-03-31", "2020-12-31"]),
        "announce_date": pd.to_datetime(["2020-10-28", "2021-03-03", "2021-04-20", "2021-03-03"]),
        "net_income_ttm": [1e6, 1.2e6, 1.3e6, -2e5],
        "revenue_ttm": [1e7, 1.1e7, np.nan, 3e6],
        "book_equity": [2e7, 2.1e7, 2.2e7, -1e5],
        "operating_cash_flow_ttm": [5e5, np.nan, 7e5, 1e4],
    })
    holders = pd.DataFrame({
        "symbol": ["AAA", "AAA", "BBB"],
        "period_end": pd.to_datetime(["2020-09-30", "2020-12-31", "2020-12-31"]),
        "announce_date": pd.to_datetime(["2020-10-28", "2021-03-02", "2021-03-05"]),
        "holder_count": [12000, 11000, 800],
        "top10_ratio": [0.45, 0.5, 0.8],
    })
    return {"securities": sec, "daily_bars": bars, "fundamentals": fundamentals, "holders": holders}


def write_tables(tables: dict[str, pd.DataFrame], root: Path, layout: str = "parquet") -> Path:
    """Write tables as ``parquet`` files, ``parquet-dir`` (hive-partitioned by year) or ``csv``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if df is None:
            continue
        if layout == "parquet":
            df.to_parquet(root / f"{name}.parquet", index=False)
        elif layout == "csv":
            out = df.copy()
            for col in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[col]):
                    out[col] = out[col].dt.strftime("%Y-%m-%d")
            out.to_csv(root / f"{name}.csv", index=False)
        elif layout == "parquet-dir":
            folder = root / name
            date_col = next(c for c in ("date", "announce_date", "list_date") if c in df.columns)
            for year, part in df.groupby(df[date_col].dt.year):
                (folder / f"year={year}").mkdir(parents=True, exist_ok=True)
                half = len(part) // 2
                part.iloc[:half].to_parquet(folder / f"year={year}" / "part-0.parquet", index=False)
                part.iloc[half:].to_parquet(folder / f"year={year}" / "part-1.parquet", index=False)
        else:
            raise ValueError(layout)
    return root


# --- hand-made markets for features --------------------------------------------------------------

# A universe that keeps every eligible stock of a hand-made market and no price rule.
OPEN_UNIVERSE = UniverseConfig(n=10_000, min_listed_days=1, penny_price=0.0, min_revenue=0.0)
# The universe used on the small simulated market (250 stocks).
SIM_UNIVERSE = UniverseConfig(n=60)


def make_market(stocks: dict[str, dict], days: int, *, start: str = "2021-01-04",
                fundamentals: pd.DataFrame | None = None, holders: pd.DataFrame | None = None) -> Market:
    """A contract-valid market from per-stock arrays over ``days`` business days.

    Each stock maps to a dict with ``close`` (required; length ``days``) and optionally
    ``volume`` (default 1000), ``shares_float`` (1e6), ``shares_total`` (2e6), ``adj_factor``
    (1), ``st`` (False), ``limit_up``, ``high``/``low`` (close +-1%), ``open`` (close),
    ``list_date`` (2000-01-03) and ``missing`` (day positions without a row).
    """
    calendar = pd.bdate_range(start, periods=days)
    rows, securities = [], []
    for symbol, spec in stocks.items():
        close = np.asarray(spec["close"], dtype="float64")
        frame = pd.DataFrame({"symbol": symbol, "date": calendar, "close": close})
        frame["open"] = np.asarray(spec.get("open", close), dtype="float64")
        frame["high"] = np.asarray(spec.get("high", np.maximum(close, frame["open"]) * 1.01), dtype="float64")
        frame["low"] = np.asarray(spec.get("low", np.minimum(close, frame["open"]) * 0.99), dtype="float64")
        for column, default in (("volume", 1000.0), ("shares_float", 1e6), ("shares_total", 2e6),
                                ("adj_factor", 1.0)):
            frame[column] = np.broadcast_to(np.asarray(spec.get(column, default), dtype="float64"), days)
        frame["amount"] = frame["volume"] * frame["close"]
        frame["st"] = np.broadcast_to(np.asarray(spec.get("st", False), dtype=bool), days)
        frame["limit_up"] = np.broadcast_to(np.asarray(spec.get("limit_up", np.nan), dtype="float64"), days)
        missing = spec.get("missing", [])
        rows.append(frame.drop(index=list(missing)))
        securities.append((symbol, pd.Timestamp(spec.get("list_date", "2000-01-03"))))
    sec = pd.DataFrame(securities, columns=["symbol", "list_date"])
    sec["delist_date"] = pd.NaT
    tables = {"securities": sec, "daily_bars": pd.concat(rows, ignore_index=True),
              "fundamentals": fundamentals, "holders": holders}
    return market_from_tables(tables)


# --- the backtest's two-stock market -------------------------------------------------------------

DAYS = pd.bdate_range("2021-01-04", periods=40)


def market(tmp_path: Path, changes: dict | None = None):
    """Two stocks, 40 sessions, price 10 every day, 1,000,000 traded a day, limits at +-10%.
    ``changes``: {(symbol, day index): {column: value}}."""
    sec = pd.DataFrame({"symbol": ["AAA", "BBB"], "list_date": pd.to_datetime(["2010-01-04"] * 2),
                        "delist_date": pd.to_datetime([None, None]), "board": ["main", "main"]})
    rows = []
    for symbol in ("AAA", "BBB"):
        for i, d in enumerate(DAYS):
            row = {"symbol": symbol, "date": d, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0,
                   "volume": 100_000.0, "amount": 1_000_000.0, "adj_factor": 1.0, "shares_total": 1e7,
                   "shares_float": 1e7, "limit_up": 11.0, "limit_down": 9.0}
            row |= (changes or {}).get((symbol, i), {})
            rows.append(row)
    bars = pd.DataFrame(rows)
    return load_market(write_tables({"securities": sec, "daily_bars": bars}, tmp_path / "m"))


def signal(day: int, symbol: str) -> pd.DataFrame:
    other = "BBB" if symbol == "AAA" else "AAA"
    return pd.DataFrame({"date": [DAYS[day]] * 2, "symbol": [symbol, other], "score": [1.0, 0.0]})


FREE = dict(commission=0.0, stamp_duty=0.0, impact_bps=0.0, participation=1.0, top_n=1, board_lot=0)


# --- small simulated markets ---------------------------------------------------------------------

def simulate(root: Path, signal: float) -> Path:
    from market.simulate import SimulationConfig, simulate_market, write_market

    return write_market(simulate_market(SimulationConfig(n_stocks=600, years=5, seed=5, signal=signal)), root)


def cut_market(src: Path, dst: Path, last: pd.Timestamp) -> Path:
    """The market as known at the close of ``last``, written as a market directory."""
    dst.mkdir(parents=True)
    for path in src.glob("*.parquet"):
        df = pd.read_parquet(path)
        if path.stem == "daily_bars" or path.stem == "ground_truth":
            df = df[df["date"] <= last]
        elif "announce_date" in df.columns:
            df = df[df["announce_date"] <= last]
        elif path.stem == "securities":
            df = df[df["list_date"] <= last].copy()
            df.loc[df["delist_date"] > last, "delist_date"] = pd.NaT
        df.to_parquet(dst / path.name, index=False)
    return dst


def quick_config(n: int, max_rounds: int, walk_forward: str = "", extra: str = "") -> str:
    """A TOML config that trains in seconds on a small simulated market: a universe of ``n``,
    18 month-ends in the first window, small trees, one thread (``walk_forward``: more keys of
    that table; ``extra``: more tables, appended last)."""
    return f"""
[universe]
n = {n}
[walk_forward]
min_train = 18
valid = 6
{walk_forward}
[lightgbm]
min_data_in_leaf = 40
num_leaves = 7
learning_rate = 0.1
max_rounds = {max_rounds}
early_stopping = 20
num_threads = 1
[evaluation]
top_n = 20
{extra}"""


RETRAIN_CONFIG = quick_config(80, 150, walk_forward="refit_every = 6", extra="[retrain]\nserve_months = 3\n")


# --- a real service process ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"not ready in {seconds}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    for child in psutil.Process(process.pid).children(recursive=True):
        child.send_signal(signals.SIGTERM)
    process.send_signal(signals.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


# --- figures -------------------------------------------------------------------------------------

def texts(fig: Figure) -> list[str]:
    """Every text drawn inside the figure's axes (e.g. ``["no data"]``)."""
    return [t.get_text() for ax in fig.axes for t in ax.texts]
