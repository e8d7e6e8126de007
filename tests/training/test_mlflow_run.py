"""The training run in MLflow: one run per walk-forward with everything in it; the model registered
as candidate (champion never set silently); a failed run leaves nothing visible; the real server
reads it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from market.fingerprint import fingerprint
from tracking.store import LoggedRun, default_uri
from training.mlflow_run import log_training

EXPERIMENT, MODEL = "spotlight", "spotlight-microcap"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return default_uri(tmp_path_factory.mktemp("mlruns"))


@pytest.fixture(scope="module")
def logged(trained, signal_market, store: str) -> LoggedRun:
    return log_training(trained, fingerprint(signal_market), experiment=EXPERIMENT, model_name=MODEL, uri=store)


def test_the_run_holds_config_metrics_artifacts_and_tags(logged, trained, signal_market, store: str) -> None:
    client = MlflowClient(store)
    run = client.get_run(logged.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["data.source"] == str(signal_market.source)
    assert run.data.params["lightgbm.num_leaves"] == "7" and run.data.params["universe.n"] == "120"
    assert run.data.params["features"] == ",".join(trained.data.features) and len(trained.data.features) > 40
    assert run.data.metrics["rank_ic"] == pytest.approx(trained.evaluations["score"].summary["rank_ic"])
    assert {"baseline_size/rank_ic", "baseline_ridge/rank_ic", "truth_ratio", "icir", "top50_excess"} <= set(run.data.metrics)
    folds = client.get_metric_history(logged.run_id, "fold/best_iteration")
    assert sorted(m.step for m in folds) == list(range(len(trained.folds)))
    months = client.get_metric_history(logged.run_id, "month/rank_ic")
    assert len(months) == len(trained.evaluations["score"].by_date["rank_ic"].dropna())
    fp = fingerprint(signal_market)
    assert run.data.tags["data.hash"] == fp["hash"] and len(fp["hash"]) == 64
    assert (run.data.tags["data.start"], run.data.tags["data.end"]) == (fp["start"], fp["end"])
    assert len(run.data.tags["mlflow.source.git.commit"]) == 40
    names = {a.path for a in client.list_artifacts(logged.run_id)}
    assert {"config.toml", "feature_spec.json", "oos_predictions.parquet", "plots", "tables"} <= names
    plots = {a.path for a in client.list_artifacts(logged.run_id, "plots")}
    assert plots == {f"plots/{n}.png" for n in ("rank_ic", "quantile_returns", "feature_importance", "contributions")}
    spec = json.loads(Path(client.download_artifacts(logged.run_id, "feature_spec.json")).read_text())
    assert spec["features"] == trained.data.features and spec["lookback"]["turnover_120"] == 120


def test_the_final_model_is_registered_as_candidate_and_loads(logged, trained, store: str) -> None:
    client = MlflowClient(store)
    version = client.get_model_version_by_alias(logged.model_name, "candidate")
    assert str(version.version) == logged.model_version and version.run_id == logged.run_id
    rank_ic = trained.evaluations["score"].summary["rank_ic"]
    assert version.description.startswith(f"regressor on label_rerating: out-of-sample RankIC {rank_ic:+.4f}")
    assert "best baseline " in version.description and "Trained on data " in version.description
    assert client.get_registered_model(logged.model_name).description.startswith("Spotlight: LightGBM ranking")
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(logged.model_name, "champion")  # never set silently
    mlflow.set_tracking_uri(store)
    model = mlflow.lightgbm.load_model(f"models:/{logged.model_name}@candidate")
    X = trained.data.X[trained.data.features].head(50)
    assert (model.predict(X) == trained.final.predict(X)).all()
    info = mlflow.models.get_model_info(f"models:/{logged.model_name}@candidate")
    assert [c.name for c in info.signature.inputs.inputs] == trained.data.features


def test_a_failure_mid_run_leaves_no_visible_run_and_no_model(trained, signal_market, store: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    client = MlflowClient(store)
    before = client.search_model_versions(f"name = '{MODEL}'")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mlflow, "register_model", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        log_training(trained, fingerprint(signal_market), experiment=EXPERIMENT, model_name=MODEL, uri=store)
    exp = client.get_experiment_by_name(EXPERIMENT)
    deleted = client.search_runs([exp.experiment_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert deleted and deleted[0].data.tags["spotlight.error"] == "RuntimeError: disk full"
    assert deleted[0].info.status == "FAILED"
    active = client.search_runs([exp.experiment_id])
    assert active and all(r.info.status == "FINISHED" for r in active)
    assert deleted[0].info.run_id not in {r.info.run_id for r in active}
    models = client.search_logged_models([exp.experiment_id])
    assert deleted[0].info.run_id not in {m.source_run_id for m in models}
    assert mlflow.active_run() is None
    after = client.search_model_versions(f"name = '{MODEL}'")
    assert len(after) == len(before)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(base: str, path: str, **query: str) -> dict:
    url = f"{base}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_the_real_mlflow_server_serves_the_run_and_the_model(logged, store: str, tmp_path: Path) -> None:
    port = _free_port()
    root = Path(store.removeprefix("sqlite:///")).parent
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", store,
           "--default-artifact-root", (root / "artifacts").as_uri(), "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"),
                              env={**os.environ, "MLFLOW_TRACKING_URI": store})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        run = _get(base, "runs/get", run_id=logged.run_id)["run"]
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        assert metrics["rank_ic"] == pytest.approx(MlflowClient(store).get_run(logged.run_id).data.metrics["rank_ic"])
        history = _get(base, "metrics/get-history", run_id=logged.run_id, metric_key="fold/valid_rank_ic")
        assert len(history["metrics"]) >= 10
        model = _get(base, "registered-models/alias", name=logged.model_name, alias="candidate")
        assert str(model["model_version"]["version"]) == logged.model_version
        assert model["model_version"]["run_id"] == logged.run_id
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:  # the UI itself
            assert r.status == 200 and b"<html" in r.read(2000).lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
