"""Ranking and scoring requests against a loaded bundle: filters, re-ranking, reasons, liquidity,
and every error with its status and field path."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest

from serving.bundle import Bundle
from serving.ranking import RequestError, rank, score
from serving.schemas import RankRequest, RankResponse, ScoreRequest, ScoreResponse


def _rank(bundle: Bundle, **kwargs) -> dict:
    """Parsed from JSON, as the service parses a body."""
    body = rank(bundle, RankRequest.model_validate_json(json.dumps(kwargs)))
    RankResponse.model_validate(body)  # the documented response schema
    return body


def test_default_is_the_latest_date_top_50_by_score(bundle: Bundle) -> None:
    body = _rank(bundle)
    book = bundle.books[bundle.dates[-1]]
    assert body["as_of"] == bundle.dates[-1].isoformat() and body["universe_size"] == 100
    assert [s["symbol"] for s in body["stocks"]] == list(book.m_symbol[:50])
    assert [s["rank"] for s in body["stocks"]] == list(range(1, 51))
    scores = [s["score"] for s in body["stocks"]]
    assert scores == sorted(scores, reverse=True)
    assert body["stocks"][0]["percentile"] == 1.0 and body["stocks"][1]["percentile"] == round(98 / 99, 4)
    assert body["stocks"][-1]["percentile"] == round(50 / 99, 4)  # one scale: fractions, as every share here
    assert body["model_version"] == bundle.manifest.model.version and body["bundle_id"] == bundle.manifest.bundle_id
    assert body["currency"] == "CNY" == bundle.manifest.currency


def test_figures_are_rounded_for_reading_and_drivers_are_labelled(bundle: Bundle) -> None:
    from features.registry import REGISTRY

    for s in _rank(bundle, top_n=20, participation_cap=0.037, days=3)["stocks"]:
        assert s["score"] == round(s["score"], 6)
        money = [s["market_cap"], s["liquidity"]["median_amount_20"], s["liquidity"]["max_position"]]
        assert all(m == round(m) for m in money)  # whole currency units
        for d in s["drivers"]:
            assert d["label"] == REGISTRY[d["feature"]].label and "_" not in d["label"]
            assert d["contribution"] == round(d["contribution"], 6)
            assert d["value"] is None or d["value"] == float(f"{d['value']:.4g}")


def test_the_crowding_regime_of_the_date_comes_with_the_ranking(bundle: Bundle) -> None:
    for day in (bundle.dates[-1], bundle.dates[0]):
        body = _rank(bundle, as_of=day.isoformat(), top_n=1)
        expected = bundle.raw_manifest["crowding"]["by_date"][day.isoformat()]
        gauges = {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in expected.items()}
        assert body["crowding"] == {"date": day.isoformat(), **gauges}
        assert body["crowding"]["regime"] in ("unknown", "normal", "elevated", "crowded")


def test_each_stock_carries_drivers_and_liquidity(bundle: Bundle) -> None:
    body = _rank(bundle, top_n=5, participation_cap=0.05, days=4)
    for s in body["stocks"]:
        assert s["in_universe"] and s["exclusion_reason"] is None
        assert len(s["drivers"]) == 3
        assert all(d["feature"] in bundle.manifest.features for d in s["drivers"])
        magnitudes = [abs(d["contribution"]) for d in s["drivers"]]
        assert magnitudes == sorted(magnitudes, reverse=True)
        amount = s["liquidity"]["median_amount_20"]
        assert amount > 0 and abs(s["liquidity"]["max_position"] - 0.05 * amount * 4) <= 0.5 + 0.2 * 0.5


def test_an_older_date_and_the_whole_universe(bundle: Bundle) -> None:
    day = bundle.dates[0]
    body = _rank(bundle, as_of=day.isoformat(), top_n=10_000)
    assert body["as_of"] == day.isoformat() and len(body["stocks"]) == 100
    assert body["stocks"][-1]["percentile"] == 0.0


def test_smallest_n_is_taken_after_the_exclusions_and_re_ranked(bundle: Bundle) -> None:
    book = bundle.books[bundle.dates[-1]]
    boards = sorted({b for b in book.m_board if b is not None})
    dropped_board = boards[0]
    first = book.m_symbol[0]
    body = _rank(bundle, top_n=1000, universe={"smallest_n": 30},
                 exclude={"boards": [dropped_board], "symbols": [first]})
    kept = [s["symbol"] for s in body["stocks"]]
    assert body["universe_size"] == len(kept) == 30
    assert first not in kept and all(s["board"] != dropped_board for s in body["stocks"])
    eligible = [i for i in range(book.size) if book.m_board[i] != dropped_board and book.m_symbol[i] != first]
    smallest = sorted(eligible, key=lambda i: (book.m_cap[i], book.m_symbol[i]))[:30]
    assert set(kept) == {book.m_symbol[i] for i in smallest}
    assert [s["rank"] for s in body["stocks"]] == list(range(1, 31))


def test_cap_band_keeps_members_inside_it(bundle: Bundle) -> None:
    book = bundle.books[bundle.dates[-1]]
    low, high = float(np.quantile(book.m_cap, 0.25)), float(np.quantile(book.m_cap, 0.75))
    body = _rank(bundle, top_n=1000, universe={"cap_band": [low, high]})
    inside = int(((book.m_cap >= low) & (book.m_cap <= high)).sum())
    assert body["universe_size"] == len(body["stocks"]) == inside
    assert all(low <= s["market_cap"] <= high for s in body["stocks"])


def test_include_excluded_lists_every_other_stock_with_its_reason(bundle: Bundle) -> None:
    book = bundle.books[bundle.dates[-1]]
    body = _rank(bundle, top_n=10, exclude={"symbols": [book.m_symbol[3]]}, include_excluded=True)
    ranked = [s for s in body["stocks"] if s["rank"] is not None]
    others = [s for s in body["stocks"] if s["rank"] is None]
    assert len(ranked) == 10 and body["universe_size"] == 99
    assert len(others) == 1 + len(book.o_symbol)
    assert others[0]["symbol"] == book.m_symbol[3] and others[0]["exclusion_reason"] == "excluded_symbol"
    assert others[0]["score"] is not None and not others[0]["in_universe"]
    rest = others[1:]
    assert all(s["score"] is None and s["drivers"] == [] and s["exclusion_reason"] for s in rest)
    assert {s["exclusion_reason"] for s in rest} <= {"st", "new_listing", "untradable", "penny", "negative_book",
                                                      "loss_small_revenue", "illiquid", "not_smallest",
                                                      "outside_band"}


def test_the_same_request_gives_the_same_answer(bundle: Bundle) -> None:
    assert _rank(bundle, top_n=20) == _rank(bundle, top_n=20)


@pytest.mark.parametrize("kwargs, status, loc, message", [
    (dict(as_of="2001-01-31"), 404, ["as_of"], "no ranking for as_of 2001-01-31: this bundle serves 12 dates"),
    (dict(universe={"smallest_n": 101}), 422, ["universe", "smallest_n"], "exceeds the model's universe"),
])
def test_unanswerable_requests(bundle: Bundle, kwargs: dict, status: int, loc: list, message: str) -> None:
    with pytest.raises(RequestError, match=message) as info:
        _rank(bundle, **kwargs)
    assert info.value.status == status and info.value.detail[0]["loc"] == loc


def _row(bundle: Bundle, book_row: int = 0) -> dict:
    """A member's model-input features from the snapshot, as a /score row."""
    import pandas as pd

    snap = pd.read_parquet(bundle.path / "snapshot.parquet")
    member = snap[snap["in_universe"]].iloc[book_row]
    return {"symbol": member["symbol"], **{f: float(member[f]) for f in bundle.manifest.features}}, member


def test_score_reproduces_the_ranked_scores(bundle: Bundle) -> None:
    row, member = _row(bundle)
    body = score(bundle, ScoreRequest.model_validate({"rows": [row, row]}), max_rows=10)
    ScoreResponse.model_validate(body)
    assert [s["symbol"] for s in body["scores"]] == [row["symbol"]] * 2
    assert body["scores"][0]["score"] == pytest.approx(member["onnx_score"], abs=1e-12)


def test_missing_values_are_allowed_as_null_or_nan(bundle: Bundle) -> None:
    row, _ = _row(bundle)
    features = bundle.manifest.features
    with_null = row | {features[0]: None}
    with_nan = row | {features[0]: math.nan}
    body = score(bundle, ScoreRequest.model_validate({"rows": [with_null, with_nan]}), max_rows=10)
    assert body["scores"][0]["score"] == body["scores"][1]["score"]
    assert math.isfinite(body["scores"][0]["score"])


@pytest.mark.parametrize("change, status, message, loc", [
    (lambda row, f: row | {"volume_shock": 0.5}, 422, "unknown feature 'volume_shock' in row 0",
     ["rows", 0, "volume_shock"]),
    (lambda row, f: {k: v for k, v in row.items() if k != f[2]}, 422, "missing feature", ["rows", 0, 2]),
    (lambda row, f: row | {f[0]: math.inf}, 422, "must be finite", ["rows", 0, 0]),
    (lambda row, f: row | {f[1]: 1e39}, 422, "beyond float32 range", ["rows", 0, 1]),
])
def test_rows_that_do_not_match_the_manifest_are_refused_by_name(bundle: Bundle, change, status: int, message: str,
                                                                 loc: list) -> None:
    row, _ = _row(bundle)
    features = bundle.manifest.features
    with pytest.raises(RequestError, match=message) as info:
        score(bundle, ScoreRequest.model_validate({"rows": [change(row, features)]}), max_rows=10)
    assert info.value.status == status
    got = info.value.detail[0]["loc"]
    expected = loc[2] if isinstance(loc[2], str) else features[loc[2]] if loc[2] is not None else features[2]
    assert got == ["rows", 0, expected]


def test_more_rows_than_the_maximum_is_413(bundle: Bundle) -> None:
    row, _ = _row(bundle)
    with pytest.raises(RequestError, match="3 rows; this service scores at most 2") as info:
        score(bundle, ScoreRequest.model_validate({"rows": [row] * 3}), max_rows=2)
    assert info.value.status == 413


def test_request_schemas_coerce_nothing() -> None:
    from pydantic import ValidationError

    for bad in ({"as_of": "2020-01-31T10:00:00"}, {"top_n": "5"}, {"top_n": 5.0}, {"top_n": True}, {"top_n": 0}, {"include_excluded": 1},
                {"universe": {"smallest_n": 5, "cap_band": [1, 2]}}, {"universe": {}},
                {"universe": {"cap_band": [5, 1]}}, {"participation_cap": 0}, {"participation_cap": math.nan},
                {"exclude": {"sectors": ["x"]}}, {"topn": 5}, {"exclude": {"symbols": ["A" * 33]}},
                {"exclude": {"symbols": [""]}}, {"exclude": {"boards": ["b"] * 101}}):
        with pytest.raises(ValidationError):
            RankRequest.model_validate_json(json.dumps(bad))
    good = RankRequest.model_validate_json('{"as_of": "2020-01-31", "participation_cap": 1}')
    assert good.as_of == dt.date(2020, 1, 31) and good.participation_cap == 1.0
    for bad in ('{"rows": [{"symbol": "A", "x": "0.5"}]}', '{"rows": [{"x": 0.5}]}', '{"rows": [{"symbol": 5}]}',
                '{"rows": {"symbol": "A"}}', '{"rows": [], "extra": 1}'):
        with pytest.raises(ValidationError):
            ScoreRequest.model_validate_json(bad)


def test_ten_thousand_excluded_symbols_are_cheap(bundle: Bundle) -> None:
    import time

    book = bundle.books[bundle.dates[-1]]
    symbols = [f"X{i:06d}" for i in range(9_990)] + list(book.m_symbol[:10])
    start = time.perf_counter()
    body = _rank(bundle, top_n=5, exclude={"symbols": symbols})
    assert body["universe_size"] == 90 and time.perf_counter() - start < 2.0  # a guard, not a benchmark
