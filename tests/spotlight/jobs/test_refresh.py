"""The daily refresh: the champion scored on new days and published, with no new model version."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from release.publish import current
from spotlight.config import load_config
from spotlight.exit_code import ExitCode
from spotlight.jobs.refresh import refresh
from spotlight.jobs.retrain import LOCK, retrain
from tests.helpers import RETRAIN_CONFIG


@pytest.fixture()
def setup(tmp_path: Path):
    config = tmp_path / "small.toml"
    config.write_text(RETRAIN_CONFIG)
    return load_config(config), f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", tmp_path / "bundles"


def _served(root: Path) -> dict:
    return json.loads((root / current(root) / "manifest.json").read_text())


def test_refresh_needs_a_champion_and_changes_nothing_without_one(markets, setup) -> None:
    earlier, _ = markets
    cfg, uri, root = setup
    done = refresh(earlier, root, cfg, uri)
    assert done.code == ExitCode.USAGE and "spotlight retrain" in done.message
    assert current(root) is None and not any(p.name.startswith("v") for p in root.iterdir())


def test_new_days_are_served_by_the_same_model_version(markets, setup) -> None:
    earlier, full = markets
    cfg, uri, root = setup
    client = MlflowClient(uri)
    first = retrain(earlier, root, cfg, uri)
    assert first.code == ExitCode.OK and first.version == "1"
    before = _served(root)

    said: list[str] = []
    done = refresh(full, root, cfg, uri, say=said.append)
    assert done.code == ExitCode.OK and done.decision == "refreshed" and done.version == "1", done.message
    after = _served(root)
    assert current(root) == done.served != first.served
    assert after["model"]["version"] == "1" and after["model"]["run_id"] == first.run_id
    assert after["snapshot_data"]["end"] > before["snapshot_data"]["end"] and after["dates"][-1] > before["dates"][-1]
    assert after["dates"][-1] == after["snapshot_data"]["end"]  # the latest trading day is served
    assert len(client.search_model_versions("name = 'spotlight-microcap'")) == 1  # no new model version
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == "1"
    assert any(line.startswith("export champion version 1") for line in said)
    report = json.loads((root / "monitor.json").read_text())  # the live model's report follows the new days
    assert report["bundle"] == done.served and any("; alert: " in line for line in said if line.startswith("monitor: "))

    again = refresh(full, root, cfg, uri)
    assert again.code == ExitCode.KEPT and again.decision == "up_to_date" and current(root) == done.served
    older = refresh(earlier, root, cfg, uri)
    assert older.code == ExitCode.KEPT and older.decision == "older_data" and current(root) == done.served


def test_a_refresh_waits_for_no_one_while_a_job_holds_the_lock(markets, setup) -> None:
    earlier, _ = markets
    cfg, uri, root = setup
    root.mkdir(parents=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        done = refresh(earlier, root, cfg, uri)
    finally:
        os.close(fd)
    assert done.code == ExitCode.LOCKED and current(root) is None


def test_bad_data_stops_the_refresh_before_anything_is_written(setup, tmp_path: Path) -> None:
    cfg, uri, root = setup
    (tmp_path / "empty").mkdir()
    done = refresh(tmp_path / "empty", root, cfg, uri)
    assert done.code == ExitCode.FAILED and "securities" in done.message
    assert not (tmp_path / "mlruns").exists()


def test_the_cli_exit_codes(markets, setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from spotlight.cli import app

    earlier, full = markets
    cfg, uri, root = setup
    config = tmp_path / "small.toml"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runner = CliRunner()
    args = ["--config", str(config), "--serve-root", str(root)]
    result = runner.invoke(app, ["refresh", "--data", str(earlier), *args])
    assert result.exit_code == 2 and "no champion" in result.output
    assert runner.invoke(app, ["retrain", "--data", str(earlier), *args]).exit_code == 0
    report = json.loads((root / "monitor.json").read_text())  # a promotion brings GET /monitor up to date at once
    assert report["model"]["version"] == "1" and report["bundle"] == current(root)
    result = runner.invoke(app, ["refresh", "--data", str(full), *args])
    assert result.exit_code == 0 and "refreshed: champion version 1" in result.output, result.output
    result = runner.invoke(app, ["refresh", "--data", str(full), *args])
    assert result.exit_code == 4 and "up_to_date" in result.output
