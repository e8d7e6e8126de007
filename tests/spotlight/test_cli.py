"""The CLI: every command listed with an example; exit codes and messages; a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from spotlight.cli import app
from tests.helpers import tiny_tables, write_tables

COMMANDS = ["validate", "simulate", "partition", "summary", "calibrate", "features", "ic", "train", "daily", "promote", "export", "serve",
            "retrain", "refresh", "monitor", "rebalance", "rollback", "schedule", "demo", "backtest"]
runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_with_an_example(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert f"Example: spotlight {name}" in result.output


def test_validate_ok_prints_one_line_summary(tiny_dir: Path) -> None:
    result = runner.invoke(app, ["validate", str(tiny_dir)])
    assert result.exit_code == 0
    assert result.output.strip() == (f"OK {tiny_dir}: 3 symbols, 15 stock-days, 2021-03-01..2021-03-08, "
                                     "tables: securities, daily_bars, fundamentals, holders")


def test_validate_violation_exits_1_naming_table_column_rule_rows(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"].loc[2, "close"] = 99.0
    result = runner.invoke(app, ["validate", str(write_tables(tables, tmp_path / "m"))])
    assert result.exit_code == 1
    assert "daily_bars.high: rule 'open, close <= high' violated in 1 row" in result.output
    assert "(AAA, 2021-03-03)" in result.output
    assert "Traceback" not in result.output


def test_summary_prints_figures(small_sim_dir: Path) -> None:
    result = runner.invoke(app, ["summary", str(small_sim_dir)])
    assert result.exit_code == 0
    for label in ("stock-days", "400th smallest", "ST stock-days", "holders"):
        assert label in result.output


def test_real_subprocess_simulate_then_validate(tmp_path: Path) -> None:
    """The installed entry point end to end, with bad input answered without a traceback."""
    exe = Path(sys.executable).with_name("spotlight")
    out = tmp_path / "market"
    sim = subprocess.run([str(exe), "simulate", "--out", str(out), "--stocks", "80", "--years", "1", "--seed", "5"],
                         capture_output=True, text=True, timeout=300)
    assert sim.returncode == 0, sim.stderr
    assert sim.stdout.startswith(f"wrote {out}: 80 symbols")
    ok = subprocess.run([str(exe), "validate", str(out)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and ok.stdout.startswith(f"OK {out}: 80 symbols")
    missing = subprocess.run([str(exe), "validate", str(tmp_path / "nope")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1
    assert "market directory exists" in missing.stderr and "Traceback" not in missing.stderr
    bad = pd.read_parquet(out / "daily_bars.parquet")
    bad.loc[3, "volume"] = -1.0
    bad.to_parquet(out / "daily_bars.parquet")
    refused = subprocess.run([str(exe), "validate", str(out)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "daily_bars.volume: rule '>= 0'" in refused.stderr


@pytest.mark.parametrize(("preset", "spins"), [({}, "1000"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "30000000000"),
                                              ({"OMP_WAIT_POLICY": "PASSIVE"}, "0"), ({"GOMP_SPINCOUNT": "7"}, "7")])
def test_openmp_threads_spin_briefly_unless_the_environment_says_otherwise(preset: dict[str, str], spins: str) -> None:
    """libgomp reads its settings once, when LightGBM loads (OMP_DISPLAY_ENV prints what it
    read): a command bounds the spin before that (1000, not 300000); the user's settings win."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env |= {"OMP_DISPLAY_ENV": "VERBOSE"} | preset
    code = "from spotlight.cli import app\napp(['config'], standalone_mode=False)\nimport lightgbm\n"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"GOMP_SPINCOUNT = '{spins}'" in done.stderr, done.stderr[-2000:]


def test_validate_names_the_unreadable_file_once(tiny_dir: Path) -> None:
    (tiny_dir / "securities.parquet").write_text("junk")
    result = runner.invoke(app, ["validate", str(tiny_dir)])
    assert result.exit_code == 1 and str(tiny_dir / "securities.parquet") in result.output
    assert result.output.startswith("error: securities: rule 'readable table' violated (")  # no directory prefix


@pytest.mark.parametrize("table", ["securities", "daily_bars"])
def test_a_table_without_rows_exits_1_from_every_data_command(table: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tables = tiny_tables()
    tables[table] = tables[table].iloc[:0]
    market = str(write_tables(tables, tmp_path / "m"))
    for argv in (["validate", market], ["features", "--data", market, "--out", str(tmp_path / "p.parquet")],
                 ["train", "--data", market]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 1 and f"{table}: rule 'at least one row' violated" in result.output, argv
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no panel, no MLflow store


def test_simulate_refuses_bad_options() -> None:
    result = runner.invoke(app, ["simulate", "--out", "x", "--stocks", "3"])
    assert result.exit_code == 2


def test_features_writes_the_panel_with_labels(small_sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "panel.parquet"
    result = runner.invoke(app, ["features", "--data", str(small_sim_dir), "--out", str(out), "--n", "50",
                                 "--start", "2016-01-01", "--end", "2016-06-30"])
    assert result.exit_code == 0, result.output
    panel = pd.read_parquet(out)
    assert list(panel.columns[:4]) == ["date", "symbol", "in_universe", "exclusion_reason"]
    assert {"label_rerating", "label_attention_shift", "turnover_20", "microcap_breadth_20"} <= set(panel.columns)
    assert panel["date"].nunique() == 6 and (panel.groupby("date")["in_universe"].sum() == 50).all()
    assert "6 dates" in result.output


def test_features_as_of_with_rank_transform(small_sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "today.parquet"
    result = runner.invoke(app, ["features", "--data", str(small_sim_dir), "--out", str(out), "--n", "50",
                                 "--as-of", "2017-12-29", "--transform", "rank", "--no-labels"])
    assert result.exit_code == 0, result.output
    panel = pd.read_parquet(out)
    assert panel["date"].unique().tolist() == [pd.Timestamp("2017-12-29")]
    assert not any(c.startswith("label_") for c in panel.columns)
    members = panel[panel["in_universe"]]
    assert members["ret_20"].between(0, 1).all() and panel.loc[~panel["in_universe"], "ret_20"].isna().all()


@pytest.mark.parametrize("args, message", [
    (["--as-of", "2017-12-30"], "not a trading day"),
    (["--start", "someday"], "not a date"),
    (["--transform", "winsorise"], "unknown --transform"),
    (["--universe", "largest"], "smallest_n or cap_band"),
])
def test_features_refuses_bad_requests_with_exit_2_and_writes_nothing(small_sim_dir: Path, tmp_path: Path,
                                                                      args: list[str], message: str) -> None:
    out = tmp_path / "panel.parquet"
    result = runner.invoke(app, ["features", "--data", str(small_sim_dir), "--out", str(out), *args])
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()


def test_features_refuses_an_invalid_market_with_exit_1(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["daily_bars"].loc[0, "volume"] = -5.0
    out = tmp_path / "panel.parquet"
    result = runner.invoke(app, ["features", "--data", str(write_tables(tables, tmp_path / "m")), "--out", str(out)])
    assert result.exit_code == 1 and "daily_bars.volume" in result.output
    assert not out.exists()


def test_ic_prints_every_feature_by_family(small_sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "panel.parquet"
    assert runner.invoke(app, ["features", "--data", str(small_sim_dir), "--out", str(out), "--n", "50"]).exit_code == 0
    result = runner.invoke(app, ["ic", "--panel", str(out), "--markdown"])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("| ")]
    assert len(lines) == 1 + len(pd.read_parquet(out).filter(regex="^(?!label_)").columns) - 4
    assert any(ln.startswith("| turnover | abnormal_turnover_20_120 |") for ln in lines)
    missing = runner.invoke(app, ["ic", "--panel", str(out), "--label", "label_nope"])
    assert missing.exit_code == 2 and "label_rerating" in missing.output


QUICK_TRAIN = """
[universe]
n = 60
[walk_forward]
min_train = 18
valid = 6
refit_every = 3
[lightgbm]
min_data_in_leaf = 30
num_leaves = 7
max_rounds = 100
early_stopping = 10
num_threads = 1
[evaluation]
top_n = 10
"""


def test_train_logs_a_run_registers_a_candidate_and_writes_predictions(small_sim_dir: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    config = tmp_path / "quick.toml"
    config.write_text(QUICK_TRAIN)
    out = tmp_path / "oos.parquet"
    result = runner.invoke(app, ["train", "--data", str(small_sim_dir), "--config", str(config),
                                 "--predictions-out", str(out)])
    assert result.exit_code == 0, result.output
    run_id = next(line.split()[1] for line in result.output.splitlines() if line.startswith("run "))
    assert "ridge" in result.output and "ground truth: model RankIC" in result.output
    assert "registered spotlight-microcap version 1 as candidate" in result.output
    assert "train: walk-forward: fold 1/" in result.output and "train: final model: fitted in" in result.output
    pred = pd.read_parquet(out)
    assert list(pred.columns) == ["date", "symbol", "score"] and pred["score"].notna().all()
    assert not pred.duplicated(["date", "symbol"]).any()
    client = MlflowClient(store)
    assert client.get_run(run_id).data.params["universe.n"] == "60"

    bad = runner.invoke(app, ["promote", "7"])
    assert bad.exit_code == 2 and "no version 7" in bad.output
    good = runner.invoke(app, ["promote", "1"])
    assert good.exit_code == 0 and "champion -> version 1 (was unset)" in good.output

    bundle = tmp_path / "bundle"
    exported = runner.invoke(app, ["export", "--out", str(bundle), "--months", "3"])  # champion by default
    assert exported.exit_code == 0, exported.output
    assert "parity over" in exported.output and "passed" in exported.output and "3 dates" in exported.output
    assert sorted(p.name for p in bundle.iterdir()) == ["manifest.json", "model.onnx", "snapshot.parquet"]
    for args, message in ((["--alias", "nope"], "no alias 'nope'"), (["--run-id", "f" * 32], "registered no version")):
        refused = runner.invoke(app, ["export", "--out", str(tmp_path / "other"), *args])
        assert refused.exit_code == 2 and message in refused.output
    assert not (tmp_path / "other").exists()

    import lightgbm as lgb

    from release import export as export_module

    real = export_module.to_onnx
    monkeypatch.setattr(export_module, "to_onnx", lambda b: real(lgb.Booster(
        model_str=b.model_to_string(num_iteration=max(1, b.current_iteration() // 2)))))
    failed = runner.invoke(app, ["export", "--out", str(tmp_path / "gated")])
    assert failed.exit_code == 3 and "parity gate failed" in failed.output and not (tmp_path / "gated").exists()


def test_train_refuses_bad_config_and_bad_data_before_logging(small_sim_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    config = tmp_path / "bad.toml"
    config.write_text("[lightgbm]\nnum_leaves = 1\n")
    result = runner.invoke(app, ["train", "--data", str(small_sim_dir), "--config", str(config)])
    assert result.exit_code == 2 and "lightgbm.num_leaves" in result.output
    result = runner.invoke(app, ["train", "--data", str(small_sim_dir), "--model", "forest"])
    assert result.exit_code == 2 and "model: Input should be 'regressor' or 'ranker'" in result.output
    tables = tiny_tables()
    tables["daily_bars"].loc[0, "close"] = -1.0
    result = runner.invoke(app, ["train", "--data", str(write_tables(tables, tmp_path / "bad"))])
    assert result.exit_code == 1 and "daily_bars" in result.output
    assert not (tmp_path / "mlruns").exists()


def _backtest_runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, "tags.`spotlight.job` = 'backtest'") if experiments else []


def test_backtest_writes_the_report_and_logs_one_mlflow_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from tests.helpers import market, signal
    from tracking.store import default_uri

    uri = default_uri(tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    m = market(tmp_path)
    preds = tmp_path / "preds.parquet"
    pd.concat([signal(22, "AAA"), signal(30, "BBB")]).to_parquet(preds)
    config = tmp_path / "bt.toml"
    config.write_text("[backtest]\ncapacity = [1e4, 1e6]\ncommission = 0.001\n")
    report, daily = tmp_path / "out" / "report.html", tmp_path / "daily.csv"
    result = runner.invoke(app, ["backtest", "--predictions", str(preds), "--data", str(m.source), "--capital", "1e5",
                                 "--top-n", "1", "--config", str(config), "--report", str(report),
                                 "--daily-out", str(daily)])
    assert result.exit_code == 0, result.output
    assert "information_ratio" in result.output and "crowding regime on 2021-02-26: unknown" in result.output
    assert list(pd.read_csv(daily).columns[:3]) == ["date", "nav", "cash"]
    text = report.read_text()
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # written whole: no temporary left
    assert text.count("data:image/png;base64,") == 4 and "<script" not in text and "http" not in text
    [run] = _backtest_runs(uri)
    assert run.info.status == "FINISHED"
    assert run.data.params["backtest.top_n"] == "1" and run.data.params["backtest.commission"] == "0.001"
    assert run.data.params["backtest.capacity"] == "10000,1e+06"
    assert "excess_annual_return" in run.data.metrics and "capacity/fill_ratio" in run.data.metrics
    client = MlflowClient(uri)
    assert len(client.get_metric_history(run.info.run_id, "nav/strategy")) == 40 - 23
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    logged |= {a.path for d in ("tables", "plots") for a in client.list_artifacts(run.info.run_id, d)}
    assert {"report.html", "tables/daily.parquet", "tables/trades.parquet", "tables/capacity.csv",
            "tables/drawdowns.csv", "plots/nav.png", "plots/crowding.png", "plots/capacity.png"} <= logged


def test_backtest_of_a_training_run_is_nested_under_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--run-id reads the run's oos_predictions.parquet and feature_spec.json from MLflow."""
    import json

    from mlflow.tracking import MlflowClient

    from tests.helpers import market, signal
    from tracking.store import default_uri, experiment_id

    uri = default_uri(tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    m = market(tmp_path)
    client = MlflowClient(uri)
    parent = client.create_run(experiment_id("research", uri), run_name="training")
    art = tmp_path / "art"
    art.mkdir()
    pd.concat([signal(22, "AAA"), signal(30, "BBB")]).to_parquet(art / "oos_predictions.parquet")
    (art / "feature_spec.json").write_text(json.dumps({"universe": {"kind": "smallest_n", "n": 2,
                                                                    "band": [0, 1e12]}}))
    client.log_artifacts(parent.info.run_id, str(art))
    client.set_terminated(parent.info.run_id)
    result = runner.invoke(app, ["backtest", "--run-id", parent.info.run_id, "--data", str(m.source), "--top-n", "1",
                                 "--no-capacity", "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    [run] = _backtest_runs(uri)
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.info.experiment_id == parent.info.experiment_id
    assert run.data.tags["spotlight.predictions"] == f"run {parent.info.run_id}"
    assert "Not run (--no-capacity)" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("args, code, message", [
    (["--participation", "2"], 2, "participation"),
    (["--config", "{bad_config}"], 2, "backtest.weighting"),
    (["--predictions", "{none}"], 1, "not a readable Parquet file"),
    (["--predictions", "{unknown_symbol}"], 1, "row 2 (date 2021-02-01 00:00:00, symbol 'ZZZ') names a stock the "
                                               "market does not list"),
    (["--predictions", "{off_calendar}"], 1, "row 0 (date 2021-02-06 00:00:00, symbol 'AAA') is not a trading day"),
    (["--run-id", "0123456789abcdef"], 2, "give exactly one of --predictions and --run-id"),
    (["--predictions", None, "--run-id", "0123456789abcdef"], 2, "run 0123456789abcdef: no out-of-sample predictions"),
])
def test_backtest_refuses_bad_input_writing_and_logging_nothing(args: list, code: int, message: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import DAYS, market, signal
    from tracking.store import default_uri

    uri = default_uri(tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    m = market(tmp_path)
    paths = {name: tmp_path / f"{name}.parquet" for name in ("preds", "unknown_symbol", "off_calendar")}
    good = pd.concat([signal(22, "AAA"), signal(30, "BBB")])
    good.to_parquet(paths["preds"])
    pd.concat([good.iloc[:2], pd.DataFrame({"date": [DAYS[20]], "symbol": ["ZZZ"], "score": [1.0]})]).to_parquet(
        paths["unknown_symbol"])
    good.assign(date=pd.Timestamp("2021-02-06")).head(1).to_parquet(paths["off_calendar"])  # a Saturday
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text('[backtest]\nweighting = "cap"\n')
    fill = {"{bad_config}": str(bad_config), "{none}": str(tmp_path / "none.parquet")}
    fill |= {f"{{{k}}}": str(v) for k, v in paths.items()}
    argv = ["backtest", "--data", str(m.source), "--report", str(tmp_path / "report.html")]
    if "--predictions" not in args:
        argv += ["--predictions", str(paths["preds"])]
    given = [fill.get(a, a) for a in args]
    if None in given:  # drop --predictions
        k = given.index(None)
        given = given[:k - 1] + given[k + 1:]
    result = runner.invoke(app, argv + given)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not (tmp_path / "report.html").exists()
    assert _backtest_runs(uri) == []


def test_a_report_that_cannot_be_put_in_place_leaves_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import market, signal
    from tracking.store import default_uri

    uri = default_uri(tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    m = market(tmp_path)
    preds = tmp_path / "preds.parquet"
    signal(22, "AAA").to_parquet(preds)
    argv = ["backtest", "--predictions", str(preds), "--data", str(m.source), "--top-n", "1", "--no-capacity"]
    (tmp_path / "folder").mkdir()
    taken = runner.invoke(app, argv + ["--report", str(tmp_path / "folder")])
    assert taken.exit_code == 2 and "is a directory" in taken.output and _backtest_runs(uri) == []
    same = str(tmp_path / "same.html")
    twice = runner.invoke(app, argv + ["--report", same, "--daily-out", same])
    assert twice.exit_code == 2 and "are the same file" in twice.output and not Path(same).exists()

    def refuse(src, dst) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    full = runner.invoke(app, argv + ["--report", str(tmp_path / "r.html")])
    assert full.exit_code == 1 and "No space left on device" in full.output
    assert _backtest_runs(uri) == []  # logged, then deleted when the report could not be moved in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "m", "mlruns", "preds.parquet"]
