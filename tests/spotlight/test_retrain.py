"""The retraining job: first promotion, idempotence, the gate, parity failure, bad data, the lock,
repair after an interrupted publish, and rollback."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from serving.publish import current, history
from spotlight.retrain import KEPT, LOCK, LOCKED, PARITY_FAILED, PROMOTED, gate, retrain, rollback
from training.config import load_config

SMALL = """
[universe]
n = 80
[walk_forward]
min_train = 18
valid = 6
refit_every = 6
[lightgbm]
min_data_in_leaf = 40
num_leaves = 7
learning_rate = 0.1
max_rounds = 150
early_stopping = 20
num_threads = 1
[evaluation]
top_n = 20
[retrain]
serve_months = 3
"""


def _cut(src: Path, dst: Path, last: pd.Timestamp) -> Path:
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


@pytest.fixture(scope="module")
def markets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a month earlier, the full market): 350 stocks over 4 years."""
    from market.simulate import SimulationConfig, simulate_market, write_market

    root = tmp_path_factory.mktemp("retrain")
    full = write_market(simulate_market(SimulationConfig(n_stocks=350, years=4, seed=11)), root / "full")
    days = pd.read_parquet(full / "daily_bars.parquet", columns=["date"])["date"].drop_duplicates().sort_values()
    last_month = days[days.dt.to_period("M") < days.iloc[-1].to_period("M")].iloc[-1]
    return _cut(full, root / "earlier", last_month), full


@pytest.fixture()
def setup(tmp_path: Path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    return load_config(config), f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", tmp_path / "bundles", config


def test_promote_then_nothing_to_do_then_a_new_month_then_rollback(markets, setup) -> None:
    earlier, full = markets
    cfg, uri, root, _ = setup
    client = MlflowClient(uri)

    first = retrain(earlier, root, cfg, uri)
    assert first.code == PROMOTED and first.decision == "promoted" and first.version == "1", first.message
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == "1"
    assert current(root) == first.served and first.served.startswith("v0001-")
    run = client.get_run(first.run_id)
    assert run.data.tags["retrain.decision"] == "promoted" and "gate/candidate_rank_ic" in run.data.metrics

    again = retrain(earlier, root, cfg, uri)  # same data, same config
    assert again.code == KEPT and again.decision == "up_to_date"
    assert len(client.search_model_versions("name = 'spotlight-microcap'")) == 1 and current(root) == first.served

    lenient = cfg.model_copy(update={"retrain": cfg.retrain.model_copy(update={"tolerance": 10.0})})
    second = retrain(full, root, lenient, uri)  # one more month of data
    assert second.code == PROMOTED and second.version == "2", second.message
    assert "gate/champion_rank_ic" in second.figures and current(root).startswith("v0002-")
    assert history(root) == [first.served, second.served]

    now, previous, version = rollback(root, cfg, uri)
    assert (now, previous, version) == (second.served, first.served, "1")
    assert current(root) == first.served
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == "1"
    assert client.get_run(second.run_id).data.tags["retrain.decision"] == "rolled_back"

    undo = retrain(full, root, lenient, uri)  # the next scheduled run does not re-promote what was rolled back
    assert undo.code == KEPT and undo.decision == "already_decided" and current(root) == first.served


def test_data_older_than_the_champions_is_not_trained_on(markets, setup) -> None:
    earlier, full = markets
    cfg, uri, root, _ = setup
    assert retrain(full, root, cfg, uri).code == PROMOTED
    older = retrain(earlier, root, cfg, uri)
    assert older.code == KEPT and older.decision == "older_data"


def test_the_gate() -> None:
    assert gate(0.05, None, 0.01)[0]
    assert gate(0.045, 0.05, 0.01)[0] and not gate(0.035, 0.05, 0.01)[0]
    assert "trails" in gate(0.035, 0.05, 0.01)[1]


def test_a_parity_failure_keeps_the_champion(markets, setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from serving import export as export_module

    earlier, _ = markets
    cfg, uri, root, _ = setup
    real = export_module.parity  # the real comparison, held to an impossible standard
    monkeypatch.setattr(export_module, "parity", lambda *a, **k: real(*a, **k, min_spearman=1.0 + 1e-9))
    outcome = retrain(earlier, root, cfg, uri)
    assert outcome.code == PARITY_FAILED and "parity gate failed" in outcome.message
    assert current(root) is None and not [p for p in root.iterdir() if p.name.startswith(("v", ".staging"))]
    client = MlflowClient(uri)
    with pytest.raises(Exception):
        client.get_model_version_by_alias("spotlight-microcap", "champion")
    versions = client.search_model_versions("name = 'spotlight-microcap'")
    assert [str(v.version) for v in versions] == ["1"]  # registered as candidate, never champion
    assert client.get_run(versions[0].run_id).data.tags["retrain.decision"] == "parity_failed"


def test_bad_data_stops_before_anything_is_written(setup, tmp_path: Path) -> None:
    from tests.conftest import tiny_tables, write_tables

    cfg, uri, root, _ = setup
    tables = tiny_tables()
    tables["daily_bars"].loc[0, "close"] = -1.0
    outcome = retrain(write_tables(tables, tmp_path / "bad"), root, cfg, uri)
    assert outcome.code == 1 and "daily_bars" in outcome.message
    assert not (tmp_path / "mlruns").exists() and [p.name for p in root.iterdir()] == [LOCK]


def test_a_second_job_is_refused_while_one_holds_the_lock(markets, setup) -> None:
    earlier, _ = markets
    cfg, uri, root, _ = setup
    root.mkdir()
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        outcome = retrain(earlier, root, cfg, uri)
    finally:
        os.close(fd)
    assert outcome.code == LOCKED and "another retrain" in outcome.message


def test_an_unpublished_champion_is_published_by_the_next_run(markets, setup) -> None:
    """As if a job died between moving the alias and publishing: the next run repairs it."""
    earlier, _ = markets
    cfg, uri, root, _ = setup
    first = retrain(earlier, root, cfg, uri)
    assert first.code == PROMOTED
    (root / "current").unlink()  # the served bundle is lost
    again = retrain(earlier, root, cfg, uri)
    assert again.code == KEPT and again.decision == "up_to_date" and current(root) == first.served

    # a new crowding rule does not retrain (the model is the same) but re-publishes the regimes
    stricter = cfg.model_copy(update={"crowding": cfg.crowding.model_copy(update={"high": 0.95})})
    third = retrain(earlier, root, stricter, uri)
    assert third.code == KEPT and third.decision == "up_to_date"
    served = json.loads((root / current(root) / "manifest.json").read_text())
    assert current(root) != first.served and current(root).startswith("v0001-")
    assert served["crowding"]["rule"]["high"] == 0.95
    assert retrain(earlier, root, stricter, uri).decision == "up_to_date" and current(root) == third.served


def test_the_cli_exit_codes(markets, setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from spotlight.cli import app

    earlier, _ = markets
    cfg, uri, root, config = setup
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runner = CliRunner()
    result = runner.invoke(app, ["retrain", "--data", str(earlier), "--config", str(config), "--serve-root",
                                 str(root)])
    assert result.exit_code == 0 and "promoted:" in result.output, result.output
    result = runner.invoke(app, ["retrain", "--data", str(earlier), "--config", str(config), "--serve-root",
                                 str(root)])
    assert result.exit_code == 4 and "up_to_date" in result.output
    result = runner.invoke(app, ["rollback", "--serve-root", str(root)])
    assert result.exit_code == 2 and "no bundle published before" in result.output
