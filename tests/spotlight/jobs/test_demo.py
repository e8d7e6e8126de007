"""What the demo prints of a ranking: readable drivers, the percentile scale, the currency."""

from __future__ import annotations

from spotlight.jobs.demo import _print_top


def test_the_top_list_names_the_currency_and_reads_drivers_by_label() -> None:
    stock = {"rank": 1, "symbol": "sz000001", "score": 0.0123, "percentile": 1.0, "market_cap": 123_000_000.0,
             "liquidity": {"max_position": 456_000.0},
             "drivers": [{"feature": "ret_20", "label": "Return, last month", "contribution": -0.0042}]}
    lines: list[str] = []
    _print_top({"stocks": [stock], "as_of": "2024-12-31", "model_version": "2", "universe_size": 400,
                "currency": "CNY"}, lines.append)
    assert "money in CNY" in lines[0]
    assert "Return, last month -0.004" in lines[2] and " 1.00 " in lines[2] and "ret_20" not in lines[2]
