"""Answer ranking and scoring requests from a loaded :class:`~serving.bundle.Bundle`.

``rank``: the date's universe members (already sorted by score desc, then symbol), narrowed
by the request (``universe``: the ``smallest_n`` by market cap or a ``cap_band``; ``exclude``:
boards and symbols), re-ranked 1..n within what is left; percentile = (n - rank) / (n - 1), a
fraction like every share in the API (1 for the top and for n = 1, 0 for the bottom).
Liquidity: max_position = participation_cap x median_amount_20 x days. Money (market_cap,
median_amount_20, max_position) is in the manifest's currency, rounded to whole units; score
to 6 decimals, percentile to 4. With ``include_excluded`` every other listed stock of the date follows, unranked, with
its reason: the universe's own (``st``, ``new_listing``, ...) or the request's, first that
applies: ``excluded_symbol``, ``excluded_board``, then ``not_smallest`` (the n smallest are
taken after the exclusions) or ``outside_band``.

``score``: rows of model-input features, checked against the manifest (unknown or missing
feature names, infinite values), then scored by ONNX.

Errors are :class:`RequestError` with an HTTP status and pydantic-style ``detail`` entries
(``loc``, ``msg``, ``type``), the same shape BentoML gives schema errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from serving.bundle import Book, Bundle
from serving.schemas import RankRequest, ScoreRequest


class RequestError(Exception):
    """A request the bundle cannot answer: the HTTP status and pydantic-style details."""

    def __init__(self, status: int, message: str, detail: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail or []

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": message, "detail": [...]}``."""
        return {"error": self.message, "detail": self.detail}


def _money(value: float) -> float | None:
    return None if value != value else float(round(value))


def book_for(bundle: Bundle, as_of: dt.date | None) -> Book:
    """The served date ``as_of`` (default: the latest); 404 listing the served dates otherwise."""
    dates = bundle.dates
    if as_of is None:
        return bundle.books[dates[-1]]
    book = bundle.books.get(as_of)
    if book is None:
        raise RequestError(404, f"no ranking for as_of {as_of}: this bundle serves {len(dates)} dates from "
                                f"{dates[0]} to {dates[-1]}: {', '.join(map(str, dates))}",
                           [{"loc": ["as_of"], "msg": "not a served date", "type": "not_found"}])
    return book


def _member_of(values: np.ndarray, wanted: list[str]) -> np.ndarray:
    """values[i] in wanted, by hashing (np.isin would build fixed-width text arrays as wide as
    the longest string given)."""
    chosen = set(wanted)
    return np.fromiter((v in chosen for v in values), dtype=bool, count=len(values))


def _request_reasons(book: Book, req: RankRequest) -> np.ndarray:
    """Per member (score order): why the request drops it, or None. Symbols and boards are
    excluded first; ``smallest_n`` then takes the n smallest of what is left."""
    reason = np.full(book.size, None, dtype=object)
    universe, exclude = req.universe, req.exclude
    if exclude is not None and exclude.symbols:
        reason[_member_of(book.m_symbol, exclude.symbols)] = "excluded_symbol"
    if exclude is not None and exclude.boards:
        reason[(reason == None) & _member_of(book.m_board, exclude.boards)] = "excluded_board"  # noqa: E711
    if universe is not None and universe.smallest_n is not None:
        if universe.smallest_n > book.size:
            raise RequestError(422, f"universe.smallest_n {universe.smallest_n} exceeds the model's universe on "
                                    f"{book.date} ({book.size} stocks); a request can narrow it, not widen it",
                               [{"loc": ["universe", "smallest_n"], "msg": f"at most {book.size}",
                                 "type": "less_than_equal"}])
        left = np.flatnonzero(reason == None)  # noqa: E711
        by_cap = left[np.argsort(book.m_cap_order[left], kind="stable")]
        reason[by_cap[universe.smallest_n:]] = "not_smallest"
    elif universe is not None and universe.cap_band is not None:
        low, high = universe.cap_band
        outside = (book.m_cap < low) | (book.m_cap > high) | np.isnan(book.m_cap)
        reason[(reason == None) & outside] = "outside_band"  # noqa: E711
    return reason


def _liquidity(amount: float, req: RankRequest) -> dict[str, float | None]:
    return {"median_amount_20": _money(amount), "max_position": _money(req.participation_cap * amount * req.days)}


def rank(bundle: Bundle, req: RankRequest) -> dict[str, Any]:
    """The response body of ``POST /rank`` (see the module docstring)."""
    book = book_for(bundle, req.as_of)
    reason = _request_reasons(book, req)
    kept = np.flatnonzero(reason == None)  # noqa: E711 - elementwise on an object array
    n = len(kept)
    def member(i: int | np.integer, rank_: int | None, excluded_for: str | None) -> dict[str, Any]:
        percentile = None if rank_ is None else round((n - rank_) / (n - 1), 4) if n > 1 else 1.0
        return {"symbol": book.m_symbol[i], "score": round(float(book.m_score[i]), 6), "rank": rank_,
                "percentile": percentile,
                "in_universe": excluded_for is None, "exclusion_reason": excluded_for, "board": book.m_board[i],
                "industry": book.m_industry[i], "market_cap": _money(book.m_cap[i]), "drivers": book.m_drivers[i],
                "liquidity": _liquidity(book.m_amount[i], req)}

    stocks = [member(i, position + 1, None) for position, i in enumerate(kept[:req.top_n])]
    if req.include_excluded:
        stocks += [member(i, None, reason[i]) for i in np.flatnonzero(reason != None)]  # noqa: E711
        for i in range(len(book.o_symbol)):
            stocks.append({"symbol": book.o_symbol[i], "score": None, "rank": None, "percentile": None,
                           "in_universe": False, "exclusion_reason": book.o_reason[i], "board": book.o_board[i],
                           "industry": book.o_industry[i], "market_cap": _money(book.o_cap[i]), "drivers": [],
                           "liquidity": _liquidity(book.o_amount[i], req)})
    model = bundle.manifest.model
    return {"as_of": book.date.isoformat(), "model_name": model.name, "model_version": model.version,
            "bundle_id": bundle.manifest.bundle_id, "currency": bundle.manifest.currency, "universe_size": n, "crowding": bundle.crowding(book.date),
            "stocks": stocks}


def feature_matrix(bundle: Bundle, req: ScoreRequest, max_rows: int) -> np.ndarray:
    """The rows as a float32 [n, features] matrix in the model's order (None/NaN -> NaN)."""
    rows = req.rows
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows)} rows; this service scores at most {max_rows} per request "
                                "(SPOTLIGHT_MAX_ROWS)", [{"loc": ["rows"], "msg": f"at most {max_rows} rows",
                                                          "type": "too_long"}])
    if not rows:
        return np.zeros((0, len(bundle.manifest.features)), np.float32)
    features = bundle.manifest.features
    known = set(features)
    detail = []
    for r, row in enumerate(rows):
        given = row.__pydantic_extra__ or {}
        for name in given:
            if name not in known:
                detail.append({"loc": ["rows", r, name], "msg": "unknown feature", "type": "unknown_feature"})
            elif (value := given[name]) is not None and abs(value) == float("inf"):
                detail.append({"loc": ["rows", r, name], "msg": "must be finite, null or NaN",
                               "type": "finite_number"})
        for name in features:
            if name not in given:
                detail.append({"loc": ["rows", r, name], "msg": "missing feature (send null for a missing "
                                                                         "value)", "type": "missing"})
        if len(detail) >= 20:
            break
    if detail:
        shown = ", ".join(f"{d['msg']} {d['loc'][2]!r} in row {d['loc'][1]}" for d in detail[:5])
        more = f" (and {len(detail) - 5} more)" if len(detail) > 5 else ""
        raise RequestError(422, f"rows do not match the model's {len(features)} features: {shown}{more}", detail[:20])
    matrix = np.array([[row.__pydantic_extra__[name] for name in features] for row in rows], dtype=np.float64)
    with np.errstate(over="ignore"):
        values = matrix.astype(np.float32)
    overflow = np.argwhere(np.isinf(values))
    if len(overflow):
        detail = [{"loc": ["rows", int(r), features[c]], "msg": "beyond float32 range (the model's input type)",
                   "type": "finite_number"} for r, c in overflow[:20]]
        raise RequestError(422, f"{len(overflow)} value(s) beyond float32 range, e.g. {features[overflow[0][1]]!r} "
                                f"in row {int(overflow[0][0])}", detail)
    return values


def score(bundle: Bundle, req: ScoreRequest, max_rows: int) -> dict[str, Any]:
    """The response body of ``POST /score``: one score per row, in order."""
    matrix = feature_matrix(bundle, req, max_rows)
    scores = bundle.scorer.score(matrix) if len(matrix) else np.zeros(0)
    model = bundle.manifest.model
    return {"model_name": model.name, "model_version": model.version, "bundle_id": bundle.manifest.bundle_id,
            "scores": [{"symbol": row.symbol, "score": float(s)} for row, s in zip(req.rows, scores, strict=False)]}
