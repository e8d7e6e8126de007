"""Shared fixtures: a hand-made tiny market, the real dev market, a small simulated market, and a
model trained and registered in a throwaway MLflow store with its exported bundle (release and
serving tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import quick_config, tiny_tables, write_tables

REAL_MARKET = Path(__file__).resolve().parents[2] / "shared" / "markets" / "cn-dev-2010-2015"


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

BUNDLE_CONFIG = quick_config(100, 200)  # the quick model behind the shared bundle (release and serving tests)


@pytest.fixture(scope="session")
def serving_market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """450 stocks over 4 years, every planted effect on."""
    from market.simulate import SimulationConfig, simulate_market, write_market

    root = tmp_path_factory.mktemp("serving-sim") / "market"
    return write_market(simulate_market(SimulationConfig(n_stocks=450, years=4, seed=7)), root)


@pytest.fixture(scope="session")
def serving_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tracking.store import default_uri

    return default_uri(tmp_path_factory.mktemp("serving-mlruns"))


@pytest.fixture(scope="session")
def logged_model(serving_market_dir: Path, serving_store: str, tmp_path_factory: pytest.TempPathFactory):
    """The final model of a walk-forward run, registered with alias candidate."""
    from market.fingerprint import fingerprint
    from market.load import load_market
    from spotlight.config import load_config
    from training.mlflow_run import log_training
    from training.train import train

    path = tmp_path_factory.mktemp("serving-config") / "small.toml"
    path.write_text(BUNDLE_CONFIG)
    market = load_market(serving_market_dir)
    cfg = load_config(path)
    result = train(market, cfg.train)
    return log_training(result, fingerprint(market), experiment=cfg.experiment, model_name=cfg.registered_model,
                        uri=serving_store)


@pytest.fixture(scope="session")
def exported(logged_model, serving_store: str, tmp_path_factory: pytest.TempPathFactory):
    from release.export import export_bundle

    out = tmp_path_factory.mktemp("serving-bundle") / "bundle"
    return export_bundle(out, tracking_uri=serving_store, model_name=logged_model.model_name, alias="candidate")


@pytest.fixture(scope="session")
def bundle_dir(exported) -> Path:
    return exported.out


@pytest.fixture(scope="session")
def bundle(bundle_dir: Path):
    from serving.bundle import Bundle

    return Bundle.load(bundle_dir)


@pytest.fixture(scope="session")
def second_bundle_dir(logged_model, serving_market_dir: Path, serving_store: str,
                      tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another model (other tree settings) on the same market, registered as version 2 and
    exported: its ranking differs from the first bundle's."""
    from market.fingerprint import fingerprint
    from market.load import load_market
    from release.export import export_bundle
    from spotlight.config import load_config
    from training.mlflow_run import log_training
    from training.train import train

    path = tmp_path_factory.mktemp("serving-config-2") / "other.toml"
    path.write_text(BUNDLE_CONFIG.replace("num_leaves = 7", "num_leaves = 3").replace("learning_rate = 0.1",
                                                                              "learning_rate = 0.2"))
    market = load_market(serving_market_dir)
    cfg = load_config(path)
    logged = log_training(train(market, cfg.train), fingerprint(market), experiment=cfg.experiment,
                          model_name=cfg.registered_model, uri=serving_store)
    from mlflow.tracking import MlflowClient

    # leave candidate where the other tests expect it (version 1); export this one by run id
    MlflowClient(serving_store).set_registered_model_alias(logged.model_name, "candidate", logged_model.model_version)
    out = tmp_path_factory.mktemp("serving-bundle-2") / "bundle"
    export_bundle(out, tracking_uri=serving_store, model_name=logged.model_name, run_id=logged.run_id)
    return out


@pytest.fixture(scope="session")
def dask_client():
    """A distributed.LocalCluster of 2 worker processes (1 thread each) shared by the Dask tests."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit="3GiB") as cluster, Client(cluster) as client:
        yield client
