"""The scheduler: cron expressions, the next fire times, and a real run of the job."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from spotlight.cli import app
from spotlight.jobs.schedule import next_times, trigger


def test_weekday_evenings_fire_monday_to_friday_at_18() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    friday_noon = dt.datetime(2026, 11, 20, 12, 0, tzinfo=shanghai)
    times = next_times("0 18 * * 1-5", friday_noon, n=3, timezone="Asia/Shanghai")
    assert [t.strftime("%a %d %H:%M") for t in times] == ["Fri 20 18:00", "Mon 23 18:00", "Tue 24 18:00"]


@pytest.mark.parametrize("cron, days", [
    ("0 18 * * 0", ["Sun"]), ("0 18 * * 7", ["Sun"]), ("0 18 * * 6,0", ["Sat", "Sun"]),
    ("0 18 * * 0-2", ["Sun", "Mon", "Tue"]), ("0 18 * * 5-7", ["Fri", "Sat", "Sun"]),
    ("0 18 * * mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]), ("0 18 * * *", ["Mon", "Tue", "Wed", "Thu", "Fri",
                                                                                "Sat", "Sun"]),
])
def test_day_of_week_means_what_crontab_means(cron: str, days: list[str]) -> None:
    monday = dt.datetime(2026, 11, 23, 0, 0, tzinfo=ZoneInfo("UTC"))
    fired = {t.strftime("%a") for t in next_times(cron, monday, n=14, timezone="UTC")}
    assert fired == set(days)


@pytest.mark.parametrize("bad", ["0 18 * *", "61 18 * * 1-5", "0 18 * * mon-xyz", "every day", "0 18 * * 8",
                                 "0 18 * * */2", "0 0 1 * 1"])
def test_bad_expressions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="bad cron expression"):
        trigger(bad)
    result = CliRunner().invoke(app, ["schedule", "--cron", bad, "--data", "x"])
    assert result.exit_code == 2 and "bad cron expression" in result.output


def test_a_real_run_is_a_retrain_process_and_its_exit_code_is_logged(tmp_path: Path) -> None:
    """--run-now --max-runs 1 on a market that does not exist: the job runs once, exits 1, the
    scheduler reports it and stops."""
    spotlight = Path(sys.executable).with_name("spotlight")
    result = subprocess.run([str(spotlight), "schedule", "--cron", "0 18 * * 1-5", "--data", str(tmp_path / "none"),
                             "--serve-root", str(tmp_path / "bundles"), "--run-now", "--max-runs", "1"],
                            capture_output=True, text=True, timeout=300,
                            env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "scheduled retrain on '0 18 * * 1-5'" in result.stdout and "retrain exited 1" in result.stdout


def test_a_monthly_retrain_and_a_daily_refresh_run_one_after_the_other(tmp_path: Path) -> None:
    """Both jobs at start (--run-now), in order and never at once, each a process whose exit
    code is logged; then the scheduler stops (--max-runs 2)."""
    spotlight = Path(sys.executable).with_name("spotlight")
    result = subprocess.run([str(spotlight), "schedule", "--cron", "0 19 1 * *", "--refresh-cron", "0 18 * * 1-5",
                             "--data", str(tmp_path / "none"), "--serve-root", str(tmp_path / "bundles"),
                             "--run-now", "--max-runs", "2"],
                            capture_output=True, text=True, timeout=300,
                            env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "scheduled retrain on '0 19 1 * *'" in out and "scheduled refresh on '0 18 * * 1-5'" in out
    assert out.index("retrain exited 1") < out.index("refresh exited 1")
    assert "refresh: validate" in result.stderr  # the refresh process itself ran


def test_a_bad_refresh_expression_is_refused_by_name() -> None:
    result = CliRunner().invoke(app, ["schedule", "--cron", "0 19 1 * *", "--refresh-cron", "0 18 * *", "--data", "x"])
    assert result.exit_code == 2 and "--refresh-cron: bad cron expression" in result.output
