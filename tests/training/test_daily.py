"""The daily-frequency model on Dask against the monthly model, through `spotlight daily`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from market.load import load_market
from market.partitioned import write_partitioned
from spotlight.cli import app
from tests.helpers import quick_config
from tracking.store import default_uri
from training.daily import train_end_for
from training.labels import HORIZON

runner = CliRunner()


def test_training_ends_where_its_last_label_is_realised_by_the_first_test_date() -> None:
    calendar = pd.bdate_range("2020-01-01", periods=200)
    end = train_end_for(calendar, calendar[100])
    assert calendar.get_loc(end) + HORIZON == 100


def test_daily_trains_on_the_cluster_and_compares_with_the_monthly_model(dask_client, small_sim_dir: Path,
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    uri = default_uri(tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    parted = write_partitioned(load_market(small_sim_dir), tmp_path / "parts", parts=3)
    config = tmp_path / "quick.toml"
    config.write_text(quick_config(100, 60))
    args = ["daily", "--data", str(parted), "--config", str(config), "--test-months", "6"]

    assert runner.invoke(app, args).exit_code == 2  # no cluster
    refused = runner.invoke(app, [*args[:2], str(small_sim_dir), *args[3:], "--cluster", dask_client.scheduler.address])
    assert refused.exit_code == 2 and "not partitioned by symbol" in refused.output

    result = runner.invoke(app, [*args, "--cluster", dask_client.scheduler.address])
    assert result.exit_code == 0, result.output
    assert "daily (" in result.output and "monthly (" in result.output
    run = MlflowClient(uri).get_run(result.output.split("run ")[-1].split()[0])
    metrics = run.data.metrics
    assert {"daily/rank_ic", "monthly/rank_ic", "daily/train_rows", "monthly/train_rows"} <= set(metrics)
    assert metrics["daily/train_rows"] > 15 * metrics["monthly/train_rows"]  # every day, not month-ends
    calendar = load_market(small_sim_dir).calendar
    month_ends = calendar.to_series().groupby(calendar.to_period("M")).max()
    first_test = month_ends.iloc[-6]
    assert calendar.get_loc(pd.Timestamp(run.data.params["train_end"])) + HORIZON == calendar.get_loc(first_test)
    names = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id, "tables")}
    assert names == {"tables/daily_vs_monthly.csv", "tables/test_predictions.parquet"}
