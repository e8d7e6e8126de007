"""Shared fixtures: a hand-made tiny market, writers for every layout, the real dev market."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REAL_MARKET = Path(__file__).resolve().parents[2] / "shared" / "markets" / "cn-dev-2010-2015"


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


@pytest.fixture
def tiny() -> dict[str, pd.DataFrame]:
    return tiny_tables()


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_tables(tiny_tables(), tmp_path / "tiny")


@pytest.fixture(scope="session")
def real_market_dir() -> Path:
    if not REAL_MARKET.exists():
        pytest.skip(f"real dev market absent: {REAL_MARKET} (it lives in ../shared beside the checkout)")
    return REAL_MARKET


@pytest.fixture(scope="session")
def small_sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-stock, 3-year simulated market written once per session."""
    from market.simulate import SimulationConfig, simulate_market, write_market

    return write_market(simulate_market(SimulationConfig(n_stocks=300, years=3, seed=7)),
                        tmp_path_factory.mktemp("sim") / "market")
