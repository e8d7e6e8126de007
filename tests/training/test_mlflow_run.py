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
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from market.fingerprint import fingerprint
from tracking.store import LoggedRun, default_uri
from training.mlflow_run import log_training, training_run

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
    assert {"truth_ratio", "icir", "top50_excess"} <= set(run.data.metrics)
    folds = client.get_metric_history(logged.run_id, "walk_forward/best_iteration")
    assert sorted(m.step for m in folds) == list(range(len(trained.folds)))
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


def _ms(date: object) -> int:
    return int(pd.Timestamp(date).timestamp() * 1000)


def test_the_run_page_opens_on_the_models_monthly_rank_ic_read_against_dates(logged, trained, store: str) -> None:
    """The run page charts each key, in sections named by the prefix before the last "/",
    sorted, unprefixed keys last (MLflow 3's RunsChartsCardConfig.getBaseChartAndSectionConfigs)."""
    client = MlflowClient(store)
    keys = set(client.get_run(logged.run_id).data.metrics)
    sections = sorted({k.rsplit("/", 1)[0] for k in keys if "/" in k})
    assert sections[0] == "month" and sorted(k for k in keys if k.startswith("month/"))[0] == "month/rank_ic"
    assert not [k for k in keys if k.startswith("baseline")]  # the baselines are one table, not dozens of charts
    table = pd.read_csv(client.download_artifacts(logged.run_id, "tables/models.csv"), index_col=0)
    assert {"model", "size", "reversal", "abnormal_turnover", "ridge"} == set(table.index)
    assert table.loc["ridge", "rank_ic"] == pytest.approx(trained.evaluations["baseline_ridge"].summary["rank_ic"])
    monthly = trained.evaluations["score"].by_date["rank_ic"]
    points = sorted(client.get_metric_history(logged.run_id, "month/rank_ic"), key=lambda m: m.step)
    want = [(k, _ms(date), value) for k, (date, value) in enumerate(monthly.items()) if pd.notna(value)]
    assert len(points) == len(monthly.dropna()) > 20  # one point per test month, at the month's date
    assert [(m.step, m.timestamp) for m in points] == [(k, ts) for k, ts, _ in want]
    assert [m.value for m in points] == pytest.approx([v for _, _, v in want])


def test_a_run_opened_before_training_spans_it_and_a_failed_one_ends_failed_unregistered(
        trained, signal_market, store: str) -> None:
    client, fp, model = MlflowClient(store), fingerprint(signal_market), f"{MODEL}-opened-early"
    with training_run(trained.config, fp, experiment=EXPERIMENT, uri=store) as run_id:
        began = time.time() * 1000
        assert client.get_run(run_id).info.status == "RUNNING"
        time.sleep(1.5)  # the training
        logged = log_training(trained, fp, experiment=EXPERIMENT, model_name=model, uri=store, run_id=run_id)
    info = client.get_run(run_id).info
    assert logged.run_id == run_id and info.status == "FINISHED"
    assert info.start_time <= began and info.end_time - info.start_time >= 1500
    assert client.get_run(run_id).data.params["features"] == ",".join(trained.data.features)

    with pytest.raises(KeyboardInterrupt), training_run(trained.config, fp, experiment=EXPERIMENT, uri=store) as failed:
        raise KeyboardInterrupt  # the job stopped mid-training
    run = client.get_run(failed)
    assert (run.info.status, run.info.lifecycle_stage) == ("FAILED", "deleted")
    assert run.data.tags["spotlight.error"].startswith("KeyboardInterrupt")
    assert not client.search_model_versions(f"run_id = '{failed}'") and mlflow.active_run() is None


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
        history = _get(base, "metrics/get-history", run_id=logged.run_id, metric_key="walk_forward/valid_rank_ic")
        assert len(history["metrics"]) >= 10
        model = _get(base, "registered-models/alias", name=logged.model_name, alias="candidate")
        assert str(model["model_version"]["version"]) == logged.model_version
        assert model["model_version"]["run_id"] == logged.run_id
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:  # the UI itself
            assert r.status == 200 and b"<html" in r.read(2000).lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
