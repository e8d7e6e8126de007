"""Hand-made markets with known answers, and the simulated/real markets for generic tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.universe import UniverseConfig
from market.load import Market, load_market, market_from_tables

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


@pytest.fixture(scope="session")
def sim_market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 250-stock, 4-year simulated market (long enough for every 750-session window)."""
    from market.simulate import SimulationConfig, simulate_market, write_market

    return write_market(simulate_market(SimulationConfig(n_stocks=250, years=4, seed=11)),
                        tmp_path_factory.mktemp("features-sim") / "market")


@pytest.fixture(scope="session")
def sim_market(sim_market_dir: Path) -> Market:
    return load_market(sim_market_dir)


@pytest.fixture(scope="session")
def real_market(real_market_dir: Path) -> Market:
    return load_market(real_market_dir)
