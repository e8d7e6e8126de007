"""The retraining job end to end (its rules alone: test_retrain_rules.py): first promotion,
idempotence, the gate, parity failure, bad data, the lock, repair after an interrupted publish,
and rollback."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from release.publish import current, history
from spotlight.config import load_config
from spotlight.exit_code import ExitCode
from spotlight.jobs.retrain import LOCK, retrain, rollback
from tests.helpers import RETRAIN_CONFIG as SMALL


@pytest.fixture()
def setup(tmp_path: Path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    return load_config(config), f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", tmp_path / "bundles", config


def test_promote_then_nothing_to_do_then_a_new_month_then_rollback(markets, setup,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import training.train

    earlier, full = markets
    cfg, uri, root, _ = setup
    client = MlflowClient(uri)
    began: list[float] = []  # when each training began (ms)
    real_train = training.train.train
    monkeypatch.setattr(training.train, "train", lambda *a, **k: began.append(time.time() * 1000) or real_train(*a, **k))

    said: list[str] = []
    first = retrain(earlier, root, cfg, uri, say=said.append)
    assert first.code == ExitCode.OK and first.decision == "promoted" and first.version == "1", first.message
    folds = [line for line in said if line.startswith("walk-forward: fold ")]  # a line per fold, off a terminal too
    n = len(folds)
    assert n > 1 and [line.split()[2] for line in folds] == [f"{k}/{n}" for k in range(1, n + 1)]
    assert said.index(folds[-1]) + 1 == next(i for i, line in enumerate(said) if line.startswith("final model: fitted"))
    why = client.get_model_version("spotlight-microcap", "1").description
    assert "out-of-sample RankIC" in why and "Champion since " in why and "retrain gate: no champion yet" in why
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == "1"
    assert current(root) == first.served and first.served.startswith("v0001-")
    served = json.loads((root / first.served / "manifest.json").read_text())["model"]  # what GET /model says
    assert "champion" in served["aliases"] and served["exported_as"] == "champion"
    run = client.get_run(first.run_id)
    assert run.data.tags["retrain.decision"] == "promoted" and "retrain/candidate_rank_ic" in run.data.metrics
    assert run.info.start_time <= began[0] < run.info.end_time  # the run spans the training, not only its logging
    assert run.info.end_time - run.info.start_time >= 900 * first.timings["train_s"]

    again = retrain(earlier, root, cfg, uri)  # same data, same config
    assert again.code == ExitCode.KEPT and again.decision == "up_to_date"
    assert len(client.search_model_versions("name = 'spotlight-microcap'")) == 1 and current(root) == first.served

    lenient = cfg.model_copy(update={"retrain": cfg.retrain.model_copy(update={"tolerance": 10.0})})
    second = retrain(full, root, lenient, uri)  # one more month of data
    assert second.code == ExitCode.OK and second.version == "2", second.message
    assert "retrain/champion_rank_ic" in second.figures and current(root).startswith("v0002-")
    assert history(root) == [first.served, second.served]

    now, previous, version = rollback(root, cfg, uri)
    assert (now, previous, version) == (second.served, first.served, "1")
    assert current(root) == first.served
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == "1"
    assert client.get_run(second.run_id).data.tags["retrain.decision"] == "rolled_back"

    undo = retrain(full, root, lenient, uri)  # the next scheduled run does not re-promote what was rolled back
    assert undo.code == ExitCode.KEPT and undo.decision == "already_decided" and current(root) == first.served


def test_data_older_than_the_champions_is_not_trained_on(markets, setup) -> None:
    earlier, full = markets
    cfg, uri, root, _ = setup
    assert retrain(full, root, cfg, uri).code == ExitCode.OK
    older = retrain(earlier, root, cfg, uri)
    assert older.code == ExitCode.KEPT and older.decision == "older_data"


def test_a_parity_failure_keeps_the_champion(markets, setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from release import export as export_module

    earlier, _ = markets
    cfg, uri, root, _ = setup
    real = export_module.parity  # the real comparison, held to an impossible standard
    monkeypatch.setattr(export_module, "parity", lambda *a, **k: real(*a, **k, min_spearman=1.0 + 1e-9))
    outcome = retrain(earlier, root, cfg, uri)
    assert outcome.code == ExitCode.PARITY_FAILED and "parity gate failed" in outcome.message
    assert current(root) is None and not [p for p in root.iterdir() if p.name.startswith(("v", ".staging"))]
    client = MlflowClient(uri)
    with pytest.raises(Exception):
        client.get_model_version_by_alias("spotlight-microcap", "champion")
    versions = client.search_model_versions("name = 'spotlight-microcap'")
    assert [str(v.version) for v in versions] == ["1"]  # registered as candidate, never champion
    assert client.get_run(versions[0].run_id).data.tags["retrain.decision"] == "parity_failed"


def test_bad_data_stops_before_anything_is_written(setup, tmp_path: Path) -> None:
    from tests.helpers import tiny_tables, write_tables

    cfg, uri, root, _ = setup
    tables = tiny_tables()
    tables["daily_bars"].loc[0, "close"] = -1.0
    outcome = retrain(write_tables(tables, tmp_path / "bad"), root, cfg, uri)
    assert outcome.code == ExitCode.FAILED and "daily_bars" in outcome.message
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
    assert outcome.code == ExitCode.LOCKED and "another retrain" in outcome.message


def test_an_unpublished_champion_is_published_by_the_next_run(markets, setup) -> None:
    """As if a job died between moving the alias and publishing: the next run repairs it."""
    earlier, _ = markets
    cfg, uri, root, _ = setup
    first = retrain(earlier, root, cfg, uri)
    assert first.code == ExitCode.OK
    (root / "current").unlink()  # the served bundle is lost
    again = retrain(earlier, root, cfg, uri)
    assert again.code == ExitCode.KEPT and again.decision == "up_to_date" and current(root) == first.served

    # a new crowding rule does not retrain (the model is the same) but re-publishes the regimes
    stricter = cfg.model_copy(update={"crowding": cfg.crowding.model_copy(update={"high": 0.95})})
    third = retrain(earlier, root, stricter, uri)
    assert third.code == ExitCode.KEPT and third.decision == "up_to_date"
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
