"""``spotlight rebalance``: the endpoint's answer from the command line; bad CSV rows, dates and
symbols refused by name with nothing written; the output written whole."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from serving.bundle import Bundle
from serving.rebalance import rebalance
from serving.schemas import Position, RebalanceRequest
from spotlight.cli import app

runner = CliRunner()


def _holdings(bundle: Bundle, path: Path) -> list[Position]:
    latest = bundle.books[bundle.dates[-1]]
    held = [Position(symbol=str(s), shares=10_000) for s in latest.m_symbol[30:40]]
    held.append(Position(symbol=str(latest.o_symbol[0]), shares=1_050))
    pd.DataFrame([p.model_dump() for p in held]).to_csv(path, index=False)
    return held


def test_the_command_answers_what_the_endpoint_answers_and_writes_it_whole(bundle_dir: Path, bundle: Bundle,
                                                                          tmp_path: Path) -> None:
    held = _holdings(bundle, tmp_path / "book.csv")
    out = tmp_path / "orders"
    result = runner.invoke(app, ["rebalance", "--capital", "2e7", "--holdings", str(tmp_path / "book.csv"),
                                 "--top-n", "30", "--serve-root", str(bundle_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = rebalance(bundle, RebalanceRequest(capital=2e7, holdings=held, top_n=30))
    assert json.loads((out / "rebalance.json").read_text()) == json.loads(json.dumps(expected))
    orders = pd.read_csv(out / "orders.csv")
    assert len(orders) == len(expected["orders"]) and set(orders["side"]) == {"buy", "sell"}
    assert len(pd.read_csv(out / "target.csv")) == len(expected["target"]) == 30
    assert f"next session: {expected['totals']['orders']} orders" in result.output
    # the written target carries a rebalance under way
    carried = runner.invoke(app, ["rebalance", "--capital", "2e7", "--holdings", str(tmp_path / "book.csv"),
                                  "--target", str(out / "target.csv"), "--serve-root", str(bundle_dir)])
    assert carried.exit_code == 0 and "(request)" in carried.output


def test_bad_rows_dates_and_symbols_exit_non_zero_by_name_writing_nothing(bundle_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "orders"
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,shares\nAAA,100\nBBB,1.5\n")
    result = runner.invoke(app, ["rebalance", "--capital", "1e6", "--holdings", str(bad), "--serve-root",
                                 str(bundle_dir), "--out", str(out)])
    assert result.exit_code == 1 and "bad.csv row 3: shares '1.5' is not a whole number" in result.output
    bad.write_text("ticker,qty\nAAA,100\n")
    result = runner.invoke(app, ["rebalance", "--capital", "1e6", "--holdings", str(bad), "--serve-root",
                                 str(bundle_dir)])
    assert result.exit_code == 1 and "missing column(s) ['symbol', 'shares']" in result.output
    bad.write_text("symbol,shares\nNOPE,100\n")
    result = runner.invoke(app, ["rebalance", "--capital", "1e6", "--holdings", str(bad), "--serve-root",
                                 str(bundle_dir), "--out", str(out)])
    assert result.exit_code == 2 and "NOPE is not listed" in result.output
    result = runner.invoke(app, ["rebalance", "--capital", "1e6", "--as-of", "1999-01-29", "--serve-root",
                                 str(bundle_dir)])
    assert result.exit_code == 2 and "no ranking for as_of 1999-01-29" in result.output
    assert not out.exists()
