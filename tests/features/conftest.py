"""Hand-made markets with known answers, and the simulated/real markets for generic tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.load import Market, load_market


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
