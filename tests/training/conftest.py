"""Small simulated markets and a quick training configuration shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.load import Market, load_market
from spotlight.config import load_config
from tests.helpers import quick_config, simulate
from training.config import TrainConfig

SMALL = quick_config(120, 300)


@pytest.fixture(scope="session")
def small_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="session")
def small_config(small_config_path: Path) -> TrainConfig:
    return load_config(small_config_path).train


@pytest.fixture(scope="session")
def signal_market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 stocks, 5 years, every planted effect on (signal 1)."""
    return simulate(tmp_path_factory.mktemp("train-sim") / "market", 1.0)


@pytest.fixture(scope="session")
def signal_market(signal_market_dir: Path) -> Market:
    return load_market(signal_market_dir)


@pytest.fixture(scope="session")
def training_notes() -> list[str]:
    """The lines ``trained`` noted while it trained (a fold each, then the final model)."""
    return []


@pytest.fixture(scope="session")
def trained(signal_market: Market, small_config: TrainConfig, training_notes: list[str]):
    from training.train import train

    return train(signal_market, small_config, note=training_notes.append)
