"""Export: the bundle's contents, point-in-time snapshot, drivers, the parity gate, and that a
refused export publishes and logs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.model_input import model_input
from features.panel import build_panel
from features.registry import REGISTRY
from features.universe import UniverseConfig
from market.fingerprint import fingerprint
from market.load import load_market
from release import export as export_module
from release.export import ExportError, ExportRequestError, ParityError, export_bundle, served_dates, top_drivers


def _booster(store: str, logged) -> lgb.Booster:
    mlflow.set_tracking_uri(store)
    return mlflow.lightgbm.load_model(f"models:/{logged.model_name}/{logged.model_version}")


def test_the_manifest_describes_model_data_and_checks(exported, logged_model, serving_market_dir: Path,
                                                      serving_store: str) -> None:
    m = json.loads((exported.out / "manifest.json").read_text())
    assert sorted(p.name for p in exported.out.iterdir()) == ["manifest.json", "model.onnx", "snapshot.parquet"]
    assert m["model"] == {"name": "spotlight-microcap", "version": logged_model.model_version, "aliases": ["candidate"],
                          "run_id": logged_model.run_id, "experiment_id": logged_model.experiment_id,
                          "exported_as": "candidate"}
    booster = _booster(serving_store, logged_model)
    assert m["features"] == booster.feature_name()
    assert m["feature_labels"] == {n: REGISTRY[n].label for n in m["features"]} and m["currency"] == "CNY"
    assert m["lookback"] == {n: REGISTRY[n].lookback for n in m["features"]}
    assert m["transform"] == "rank" and m["universe"]["n"] == 100 and m["label"] == "label_rerating"
    assert m["train_window"]["start"] < m["train_window"]["end"]
    run = MlflowClient(serving_store).get_run(logged_model.run_id)
    assert m["metrics"]["rank_ic"] == run.data.metrics["rank_ic"] and "fold/valid_rank_ic" not in m["metrics"]
    market = load_market(serving_market_dir)
    assert m["snapshot_data"]["hash"] == m["training_data"]["hash"] == fingerprint(market)["hash"]
    assert m["dates"] == [f"{d:%Y-%m-%d}" for d in served_dates(market.calendar, 12)]
    assert m["dates"][-1] == f"{market.calendar[-1]:%Y-%m-%d}"
    assert {"lightgbm", "onnxruntime", "onnxmltools", "mlflow"} <= set(m["libraries"])
    assert m["files"] == {n: export_module.sha256(exported.out / n) for n in ("model.onnx", "snapshot.parquet")}


def test_parity_covers_every_out_of_sample_and_served_member(exported, logged_model, serving_store: str) -> None:
    client = MlflowClient(serving_store)
    oos = pd.read_parquet(client.download_artifacts(logged_model.run_id, "oos_predictions.parquet"))
    served = pd.to_datetime(exported.manifest["dates"])
    dates = pd.DatetimeIndex(oos["date"].unique()).union(served)
    p = exported.manifest["parity"]
    assert p["dates"] == len(dates) and p["rows"] == 100 * len(dates)  # every member of every date
    assert p["rel_diff"] <= 1e-5 and p["spearman"] >= 0.99999 and p["top_n_mismatched_dates"] == 0
    assert exported.parity.passed


def test_the_snapshot_is_what_a_build_on_each_day_would_give(exported, serving_market_dir: Path) -> None:
    """Point in time: each served date's rows equal a build from the market cut at that date."""
    snap = pd.read_parquet(exported.out / "snapshot.parquet")
    features = exported.manifest["features"]
    market = load_market(serving_market_dir)
    day = pd.Timestamp(exported.manifest["dates"][-4])
    cut = market.until(day)
    panel = build_panel(cut, universe=UniverseConfig(n=100), as_of=day, features=[REGISTRY[n] for n in features])
    X = model_input(panel, features).to_numpy(np.float32)
    rows = snap[snap["date"] == day].reset_index(drop=True)
    assert list(rows["symbol"]) == list(panel["symbol"])  # every listed stock, by symbol
    assert (rows["in_universe"].to_numpy() == panel["in_universe"].to_numpy()).all()
    members = panel["in_universe"].to_numpy()
    np.testing.assert_array_equal(rows.loc[members, features].to_numpy(np.float32), X[members])
    assert rows.loc[~members, features[0]].isna().all()  # per-stock features: none outside the universe
    outside = rows.loc[~members, "exclusion_reason"]
    assert outside.notna().all() and rows.loc[members, "exclusion_reason"].isna().all()
    bars = cut.bars[cut.bars["date"] == day].set_index("symbol")
    np.testing.assert_allclose(rows.set_index("symbol")["market_cap"], bars["market_cap"].reindex(rows["symbol"]))


def test_drivers_are_the_three_largest_contributions_of_the_native_model(exported, logged_model, serving_store: str,
                                                                         serving_market_dir: Path) -> None:
    snap = pd.read_parquet(exported.out / "snapshot.parquet")
    features = exported.manifest["features"]
    day = pd.Timestamp(exported.manifest["dates"][-1])
    panel = build_panel(load_market(serving_market_dir), universe=UniverseConfig(n=100), as_of=day,
                        features=[REGISTRY[n] for n in features])
    X = model_input(panel, features).to_numpy(np.float64)[panel["in_universe"].to_numpy()]  # double, as exported
    members = snap[(snap["date"] == day) & snap["in_universe"]].reset_index(drop=True)
    booster = _booster(serving_store, logged_model)
    contrib = booster.predict(X, pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), members["onnx_score"], atol=1e-5)
    for i in range(len(members)):
        magnitude = np.abs(contrib[i, :-1])
        top = [features[j] for j in np.argsort(-magnitude, kind="stable")[:3]]
        assert [members.loc[i, f"driver{k}_feature"] for k in (1, 2, 3)] == top
        j = features.index(top[0])
        assert members.loc[i, "driver1_contribution"] == pytest.approx(contrib[i, j], abs=1e-9)
        assert members.loc[i, "driver1_value"] == pytest.approx(panel.loc[panel["in_universe"], top[0]].iloc[i])
    assert snap.loc[~snap["in_universe"], "driver1_feature"].isna().all()


def test_top_drivers_orders_by_magnitude_and_ignores_the_bias() -> None:
    contributions = np.array([[0.1, -0.5, 0.2, 0.05, 9.0]])
    order, values = top_drivers(contributions, ["a", "b", "c", "d"])
    assert order.tolist() == [[1, 2, 0]] and values.tolist() == [[-0.5, 0.2, 0.1]]


def test_the_bundle_is_logged_to_the_model_run(exported, logged_model, serving_store: str) -> None:
    client = MlflowClient(serving_store)
    logged = sorted(a.path for a in client.list_artifacts(logged_model.run_id, "bundle"))
    assert logged == ["bundle/manifest.json", "bundle/model.onnx", "bundle/snapshot.parquet"]


def test_a_failing_parity_gate_publishes_and_logs_nothing(logged_model, serving_store: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = export_module.to_onnx

    def half_the_trees(booster: lgb.Booster):  # a genuinely different model
        return real(lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.current_iteration() // 2)))

    monkeypatch.setattr(export_module, "to_onnx", half_the_trees)
    client = MlflowClient(serving_store)

    def logged_bundle() -> str:
        path = client.download_artifacts(logged_model.run_id, "bundle/manifest.json", str(tmp_path / "dl"))
        return json.loads(Path(path).read_text())["files"]["model.onnx"]

    before = logged_bundle()
    with pytest.raises(ExportError, match="parity gate failed.*of the score spread") as info:
        export_bundle(tmp_path / "b", tracking_uri=serving_store, model_name="spotlight-microcap", alias="candidate")
    assert isinstance(info.value, ParityError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl"]  # no bundle, no temporary directory
    assert logged_bundle() == before  # the run still holds the last published bundle


@pytest.mark.parametrize("kwargs, message", [
    (dict(alias="champion"), "no alias 'champion'.*candidate -> 1.*spotlight promote"),
    (dict(run_id="0" * 32), "registered no version"),
    (dict(alias="candidate", run_id="x"), "exactly one"),
    (dict(alias="candidate", months=0), "months"),
    (dict(alias="candidate", data="/nonexistent/market"), "not here; pass --data"),
])
def test_bad_requests_are_request_errors_and_write_nothing(kwargs: dict, message: str, logged_model, serving_store: str,
                                               tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=message) as info:
        export_bundle(tmp_path / "b", tracking_uri=serving_store, model_name="spotlight-microcap", **kwargs)
    assert isinstance(info.value, ExportRequestError) and list(tmp_path.iterdir()) == []


def test_an_existing_bundle_is_replaced_but_another_directory_is_refused(exported, serving_store: str,
                                                                         tmp_path: Path) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    web = tmp_path / "webapp"  # a manifest.json that is not a bundle's
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "my app"}')
    for path in (mine, web):
        with pytest.raises(ExportError, match="not a bundle"):
            export_bundle(path, tracking_uri=serving_store, model_name="spotlight-microcap", alias="candidate",
                          months=2)
    assert [p.name for p in mine.iterdir()] == ["keep.txt"] and [p.name for p in web.iterdir()] == ["manifest.json"]
    out = tmp_path / "bundle"
    first = export_bundle(out, tracking_uri=serving_store, model_name="spotlight-microcap", alias="candidate", months=2)
    second = export_bundle(out, tracking_uri=serving_store, model_name="spotlight-microcap", alias="candidate",
                           months=3)
    assert len(first.manifest["dates"]) == 2 and len(json.loads((out / "manifest.json").read_text())["dates"]) == 3
    assert second.manifest["bundle_id"] != first.manifest["bundle_id"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "notes", "webapp"]  # nothing left beside


def test_same_model_and_data_give_the_same_snapshot_and_model_bytes(exported, serving_store: str,
                                                                    tmp_path: Path) -> None:
    again = export_bundle(tmp_path / "b", tracking_uri=serving_store, model_name="spotlight-microcap",
                          alias="candidate")
    assert again.manifest["files"] == exported.manifest["files"]
    assert again.manifest["bundle_id"] == exported.manifest["bundle_id"]


def test_served_dates_end_with_the_last_day_even_mid_month() -> None:
    cal = pd.DatetimeIndex(pd.to_datetime(["2021-01-28", "2021-01-29", "2021-02-01", "2021-02-26", "2021-03-02"]))
    assert list(served_dates(cal, 2)) == list(pd.to_datetime(["2021-02-26", "2021-03-02"]))
    assert list(served_dates(cal, 12)) == list(pd.to_datetime(["2021-01-29", "2021-02-26", "2021-03-02"]))


def test_a_market_without_the_runs_history_cannot_pass_the_gate(logged_model, serving_store: str,
                                                                  tmp_path: Path) -> None:
    from market.simulate import SimulationConfig, simulate_market, write_market

    later = write_market(simulate_market(SimulationConfig(n_stocks=120, years=2, seed=1, start="2030-01-01")),
                         tmp_path / "later")
    with pytest.raises(ExportError, match="lacks .* out-of-sample dates") as info:
        export_bundle(tmp_path / "b", tracking_uri=serving_store, model_name="spotlight-microcap",
                      alias="candidate", data=later)
    assert type(info.value) is ExportError and not (tmp_path / "b").exists()


def test_the_manifest_carries_each_served_dates_crowding(exported, serving_market_dir: Path) -> None:
    """The regime and gauges of every served date, as features.crowding computes them from the
    market known that day."""
    from features.crowding import CrowdingRule, crowding

    info = exported.manifest["crowding"]
    assert info["rule"] == CrowdingRule().as_dict()
    assert sorted(info["by_date"]) == exported.manifest["dates"]
    market = load_market(serving_market_dir)
    day = exported.manifest["dates"][-3]
    expected = crowding(market.until(day), UniverseConfig(n=100)).loc[day]
    got = info["by_date"][day]
    assert got["regime"] == expected["regime"] and got["regime"] != "unknown"
    for key in ("turnover_share", "turnover_share_pctile", "bp_spread", "bp_spread_pctile"):
        assert got[key] == pytest.approx(float(expected[key]), rel=1e-12)
