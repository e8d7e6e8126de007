"""The store: the default URI keeps everything under mlruns/, a discarded run is FAILED, tagged
with its reason and hidden, and the artifact readers refuse a run without its artifacts."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tracking import artifacts as names
from tracking.store import configure, default_uri, discard_run, experiment_id, tracking_uri


def test_the_default_store_lives_under_mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/x.db")
    assert tracking_uri() == "sqlite:////elsewhere/x.db" and tracking_uri("given") == "given"
    uri = configure(default_uri(tmp_path / "store"))
    exp = MlflowClient(uri).get_experiment(experiment_id("e", uri))
    assert exp.artifact_location == (tmp_path / "store" / "artifacts").as_uri()


def test_a_discarded_run_is_failed_tagged_and_hidden(tmp_path: Path) -> None:
    uri = configure(default_uri(tmp_path / "mlruns"))
    client = MlflowClient(uri)
    exp = experiment_id("e", uri)
    run = client.create_run(exp)
    discard_run(uri, run.info.run_id, "the report could not be written")
    assert client.search_runs([exp]) == []
    gone = client.search_runs([exp], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)[0]
    assert gone.info.status == "FAILED"
    assert gone.data.tags[names.ERROR] == "RuntimeError: the report could not be written"


def test_a_run_without_predictions_is_a_lookup_error(tmp_path: Path) -> None:
    uri = configure(default_uri(tmp_path / "mlruns"))
    client = MlflowClient(uri)
    run = client.create_run(experiment_id("e", uri))
    with pytest.raises(LookupError, match=f"run {run.info.run_id}: no out-of-sample predictions"):
        names.run_predictions(client, run.info.run_id)
    assert names.search_tags(**{names.DATA_HASH: "h", names.JOB: "retrain"}) == \
        "tags.`data.hash` = 'h' and tags.`spotlight.job` = 'retrain'"
