"""A small market as known a month ago and today, shared by the retrain and fault tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import cut_market


@pytest.fixture(scope="session")
def markets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a month earlier, the full market): 350 stocks over 4 years."""
    from market.simulate import SimulationConfig, simulate_market, write_market

    root = tmp_path_factory.mktemp("retrain")
    full = write_market(simulate_market(SimulationConfig(n_stocks=350, years=4, seed=11)), root / "full")
    days = pd.read_parquet(full / "daily_bars.parquet", columns=["date"])["date"].drop_duplicates().sort_values()
    last_month = days[days.dt.to_period("M") < days.iloc[-1].to_period("M")].iloc[-1]
    return cut_market(full, root / "earlier", last_month), full
