"""The end-to-end demo, small: every step runs, the service answers and is stopped afterwards;
what it prints of a ranking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from spotlight.jobs.demo import _print_top


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_stops_what_it_started(tmp_path: Path) -> None:
    spotlight = Path(sys.executable).with_name("spotlight")
    env = os.environ | {"BENTOML_HOME": str(tmp_path / "bentoml")}
    env.pop("MLFLOW_TRACKING_URI", None)  # the demo's own store: tmp_path/mlruns
    result = subprocess.run([str(spotlight), "demo", "--out", str(tmp_path / "demo"), "--stocks", "400",
                             "--years", "5", "--port", "3456"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    for step in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 6.", "== 7."):
        assert step in out
    assert "refresh: refreshed" in out and "GET /monitor: " in out and "\nalert: " in out
    assert "POST /rebalance: a book of " in out and "  next session: " in out and " orders, bought " in out
    assert "decision: promoted" in out  # the first candidate is always promoted
    assert out.count("rank symbol") >= 1 and "drivers" in out
    decisions = [line for line in out.splitlines() if line.startswith("decision:")]
    assert len(decisions) == 2
    if decisions[1].startswith("decision: promoted"):
        assert "swapped in without a restart" in out
    assert "MLflow UI:" in out and "the service was stopped" in out
    report = (tmp_path / "demo" / "backtest_report.html").read_text()
    assert report.count("data:image/png;base64,") == 4 and "capacity (excess a year at each starting capital, CNY): 10 m " in out
    assert "crowding regime on " in out and "after costs" in out
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and (tmp_path / "demo" / "bundles" / "current").is_symlink()
    port = int(next(line for line in out.splitlines() if line.startswith("serving http://")).split(":")[2].split(";")[0])
    listening = [c for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
    assert listening == []  # the service is gone


def test_the_top_list_names_the_currency_and_reads_drivers_by_label() -> None:
    stock = {"rank": 1, "symbol": "sz000001", "score": 0.0123, "percentile": 1.0, "market_cap": 123_000_000.0,
             "liquidity": {"max_position": 456_000.0},
             "drivers": [{"feature": "ret_20", "label": "Return, last month", "contribution": -0.0042}]}
    lines: list[str] = []
    _print_top({"stocks": [stock], "as_of": "2024-12-31", "model_version": "2", "universe_size": 400,
                "currency": "CNY"}, lines.append)
    assert "money in CNY" in lines[0]
    assert "Return, last month -0.004" in lines[2] and " 1.00 " in lines[2] and "ret_20" not in lines[2]
