"""The CLI: every command listed with an example; exit codes and messages; a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from spotlight.cli import app
from tests.conftest import tiny_tables, write_tables

COMMANDS = ["validate", "simulate", "summary", "calibrate"]
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


def test_simulate_refuses_bad_options() -> None:
    result = runner.invoke(app, ["simulate", "--out", "x", "--stocks", "3"])
    assert result.exit_code == 2
