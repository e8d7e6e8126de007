"""The backtest job: the report it writes names the configured currency."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from spotlight.config import load_config
from spotlight.jobs.backtest import run_job
from tests.helpers import market, signal


def test_the_report_names_the_configured_currency(tmp_path: Path) -> None:
    m = market(tmp_path)
    preds = tmp_path / "preds.parquet"
    pd.concat([signal(22, "AAA"), signal(30, "BBB")]).to_parquet(preds)
    cfg = load_config(currency="USD", backtest={"capital": 1e5, "top_n": 1, "capacity": [1e4, 1e6]})
    done = run_job(m.source, cfg, predictions=preds, report=tmp_path / "report.html", log_mlflow=False)
    text = done.html.read_text()
    assert done.report.currency == "USD"
    assert "100,000 USD starting capital</h1>" in text and "even at 10,000 USD (" in text
    assert "market currency" not in text and "CNY" not in text
