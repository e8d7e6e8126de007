"""The monitoring job on a served champion: realised figures once horizons pass, drift, the
alert state, the report the service serves, and MLflow series stamped with the served dates."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from spotlight.config import load_config
from spotlight.exit_code import ExitCode
from spotlight.jobs.monitor import LEDGER, MonitorError, monitor
from spotlight.jobs.refresh import refresh
from spotlight.jobs.retrain import retrain
from tests.helpers import RETRAIN_CONFIG


@pytest.fixture(scope="module")
def served(markets, tmp_path_factory: pytest.TempPathFactory):
    """A champion trained a month ago and refreshed on today's market (which runs the monitor
    once); shared by this module's tests, in order: the last one retrains."""
    earlier, full = markets
    tmp_path = tmp_path_factory.mktemp("monitor")
    config = tmp_path / "small.toml"
    config.write_text(RETRAIN_CONFIG + "[monitor]\ntop_n = 10\n")
    cfg, uri, root = load_config(config), f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", tmp_path / "bundles"
    assert retrain(earlier, root, cfg, uri).code == ExitCode.OK
    assert refresh(full, root, cfg, uri).code == ExitCode.OK
    return full, root, cfg, uri


def test_the_report_the_ledger_and_the_mlflow_series(served) -> None:
    full, root, cfg, uri = served
    done = monitor(full, root, cfg, uri)
    report = json.loads((root / "monitor.json").read_text())
    assert report == json.loads(json.dumps(done.report)) and done.code in (ExitCode.OK, ExitCode.ALERT)
    manifest = json.loads((root / report["bundle"] / "manifest.json").read_text())
    train_end, data_end = manifest["train_window"]["end"], report["data_end"]
    assert report["realised"], "no served date matured on a market a month past the training window"
    for row in report["realised"]:
        assert train_end < row["date"] and row["horizon_end"] <= data_end and -1 <= row["rank_ic"] <= 1
    from features.registry import REGISTRY

    per_stock = {n for n in manifest["features"] if REGISTRY[n].family != "segment"}
    assert {f["feature"] for f in report["drift"]["features"]} == per_stock  # gauges: the crowding regime's
    assert all(f["psi"] is None or f["psi"] >= 0 for f in report["drift"]["features"])
    assert report["alert"]["state"] in ("ok", "alert") and report["rule"]["top_n"] == 10

    history = MlflowClient(uri).get_metric_history(report["model"]["run_id"], "live/rank_ic")
    stamped = sorted(pd.Timestamp(m.timestamp, unit="ms").strftime("%Y-%m-%d") for m in history)
    assert stamped == sorted(r["date"] for r in report["realised"])  # one point per served date, at that date

    again = monitor(full, root, cfg, uri)  # nothing new matured: nothing logged or added twice
    assert again.new.empty and len(pd.read_csv(root / LEDGER)) == len(report["realised"])
    assert len(MlflowClient(uri).get_metric_history(report["model"]["run_id"], "live/rank_ic")) == len(history)


def test_the_service_serves_the_report_at_get_monitor(served, monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.schemas import MonitorReport
    from serving.service import Spotlight

    full, root, cfg, uri = served
    monkeypatch.setenv("SPOTLIGHT_BUNDLE", str(root))
    monkeypatch.setenv("SPOTLIGHT_RELOAD_SECONDS", "0")
    (root / "monitor.json").unlink()  # the refresh wrote one: as before the first report
    svc = Spotlight()
    assert svc.monitor().status_code == 404 and b"spotlight monitor" in svc.monitor().body
    monitor(full, root, cfg, uri)
    body = MonitorReport.model_validate_json(svc.monitor().body)
    assert body.model["version"] == "1" and body.alert.state in ("ok", "alert")


def test_nothing_served_or_bad_data_is_refused_by_name(markets, tmp_path: Path) -> None:
    cfg = load_config()
    with pytest.raises(MonitorError, match="no bundle is served"):
        monitor(markets[1], tmp_path / "bundles", cfg, f"sqlite:///{tmp_path / 'db'}")


def test_a_failing_report_does_not_fail_the_refresh_that_published(served, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # any error of the monitor, not only a MonitorError: the bundle is already published and served
    import shutil

    from release.publish import current

    full, root, cfg, uri = served
    corrected = shutil.copytree(full, tmp_path / "corrected")
    bars = pd.read_parquet(corrected / "daily_bars.parquet")
    bars.loc[bars.index[-1], "volume"] += 100  # the feed corrects a bar of today: new data, same last day
    bars.to_parquet(corrected / "daily_bars.parquet", index=False)

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug in the report")

    monkeypatch.setattr("spotlight.jobs.monitor.monitor", broken)
    said: list[str] = []
    done = refresh(corrected, root, cfg, uri, say=said.append)
    assert done.code == ExitCode.OK and done.decision == "refreshed" and current(root) == done.served, done.message
    assert "monitor failed, what was published stands: ValueError('a bug in the report')" in said


def test_the_retrain_gate_reads_the_live_evidence_when_asked(served) -> None:
    full, root, cfg, uri = served
    ledger = pd.read_csv(root / LEDGER, dtype={"model_version": str})
    expected = ledger[ledger["model_version"] == "1"].sort_values("date").tail(cfg.monitor.months)["rank_ic"].mean()
    lenient = cfg.model_copy(update={"retrain": cfg.retrain.model_copy(update={"live_evidence": True})})
    done = retrain(full, root, lenient, uri)  # one more month: trains, and the gate reads the champion's live record
    assert done.code in (ExitCode.OK, ExitCode.KEPT), done.message
    assert done.figures["retrain/champion_live_rank_ic"] == pytest.approx(expected)
    assert f"champion's realised RankIC over its last {cfg.monitor.months} served dates {expected:+.4f}" in done.message
