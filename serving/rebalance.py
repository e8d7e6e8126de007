"""Answer ``POST /rebalance`` (and ``spotlight rebalance``): the target portfolio and the next
session's orders, from one served date.

The book's value is ``capital`` (its cash) + its holdings at the close of ``as_of``. The target
is the top ``top_n`` universe members of ``as_of`` by score (equal- or score-weighted) at that
value, in whole board lots (:func:`orders.target_shares`), or the ``target`` a request carries
while a rebalance is under way. The orders are :func:`orders.plan` (the backtest's own
function) with what ``as_of``'s close knows of the next session (:mod:`features.tradability`,
recorded in the bundle) and the bundle's trading rules: lots, participation cap, no buy when
suspended or limit-up-locked, no sell when suspended or limit-down-locked, buys scaled to the
cash, costs by the backtest's cost model. A holding outside the target is sold; its reason is
its exclusion from the universe (``st``, ``delisting``, ``illiquid``, ...) or ``not_in_target``.
A holding listed on an earlier served date but not on ``as_of`` (delisted since) is listed as a
sale that cannot trade (``reason: delisted``, ``blocked: not_listed``) and is not valued; such
a symbol in a ``target`` is dropped from it.

Errors (:class:`~serving.ranking.RequestError`): 404 ``as_of`` not served, 409 a bundle exported
before orders (no trading state), 422 a holding or target symbol given twice or listed on no
served date up to ``as_of``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import numpy as np

from orders import TradingRules, plan, session, target_shares, top_weights
from serving.bundle import Book, Bundle
from serving.ranking import RequestError, book_for
from serving.schemas import Position, RebalanceRequest


def _positions(book_symbols: dict[str, int], given: list[Position], field: str,
               gone: Collection[str] = ()) -> np.ndarray:
    """Shares per listed stock of the date; 422 naming each repeated symbol and each one not
    listed that is not in ``gone`` (listed on an earlier served date, since delisted)."""
    shares = np.zeros(len(book_symbols))
    detail, seen = [], set()
    for k, p in enumerate(given):
        if p.symbol in seen:
            detail.append({"loc": [field, k, "symbol"], "msg": f"{p.symbol} is given twice", "type": "duplicate"})
        elif p.symbol in gone:
            pass
        elif p.symbol not in book_symbols:
            detail.append({"loc": [field, k, "symbol"], "msg": f"{p.symbol} is not listed on as_of or any "
                                                               "earlier served date",
                           "type": "not_listed"})
        else:
            shares[book_symbols[p.symbol]] = p.shares
        seen.add(p.symbol)
    if detail:
        shown = "; ".join(f"{field}[{d['loc'][1]}]: {d['msg']}" for d in detail[:5])
        more = f" (and {len(detail) - 5} more)" if len(detail) > 5 else ""
        raise RequestError(422, f"{shown}{more}", detail[:20])
    return shares


def _number(value: float) -> float | int:
    """An integral value as an int (shares), else the value."""
    return int(value) if float(value).is_integer() else float(value)


def orders_for(book: Book, req: RebalanceRequest, rules: TradingRules,
               delisted: dict[str, float] | None = None) -> dict[str, Any]:
    """The body of ``POST /rebalance`` but the model's name (see the module docstring).
    ``delisted``: the last close of symbols listed on an earlier served date but not on ``as_of``."""
    delisted = delisted or {}
    state = book.trading
    if state is None:
        raise RequestError(409, "this bundle was exported before orders could be made (it has no trading state); "
                                "publish a fresh one: spotlight refresh, or spotlight export",
                           [{"loc": ["body"], "msg": "bundle without trading state", "type": "bundle_too_old"}])
    where = {s: i for i, s in enumerate(state.symbol)}
    held = _positions(where, req.holdings, "holdings", delisted)
    price = np.nan_to_num(state.close)
    value = float(np.sum(held * price))
    nav = req.capital + value
    lot = float(rules.board_lot)
    members = state.reason == None  # noqa: E711 - elementwise on an object array; members come in score order
    if req.target is not None:
        target = _positions(where, req.target, "target", delisted)
    else:
        weights = top_weights(state.symbol[members], state.score[members], req.top_n, req.weighting)
        w = np.zeros(len(held))
        w[[where[s] for s in weights.index]] = weights.to_numpy()
        target = target_shares(w, nav, price, np.full(len(held), lot))
    participation = req.participation if req.participation is not None else rules.participation
    s = session(state.close, state.suspended, state.limit_up_locked, state.limit_down_locked, state.median_amount,
                participation, lot)
    o = plan(held, target, req.capital, s, rules.costs)

    rank = np.zeros(len(held), np.int64)
    rank[members] = np.arange(1, int(members.sum()) + 1)
    lines = []
    for i in np.flatnonzero(target > 0):
        lines.append({"symbol": state.symbol[i], "rank": int(rank[i]) or None,
                      "weight": round(target[i] * price[i] / nav, 6) if nav > 0 else 0.0,
                      "shares": _number(target[i]), "price": float(price[i]),
                      "value": round(float(target[i] * price[i]), 2)})
    lines.sort(key=lambda line: (-line["value"], line["symbol"]))
    orders = []
    for i in np.flatnonzero(o.wanted != 0):
        sell = o.wanted[i] < 0
        if sell:
            reason = state.reason[i] or ("trim" if target[i] > 0 else "not_in_target")
        else:
            reason = "add" if held[i] > 0 else "new_position"
        sessions = o.sessions[i]
        orders.append({"symbol": state.symbol[i], "side": "sell" if sell else "buy", "reason": reason,
                       "shares": _number(abs(o.shares[i])), "price": float(price[i]),
                       "value": round(float(o.value[i]), 2), "commission": round(float(o.commission[i]), 2),
                       "stamp_duty": round(float(o.stamp_duty[i]), 2), "impact": round(float(o.impact[i]), 2),
                       "cost": round(float(o.cost[i]), 2), "wanted_shares": _number(abs(o.wanted[i])),
                       "remaining_shares": _number(abs(o.remaining[i])),
                       "sessions_to_complete": None if sessions != sessions else int(sessions),
                       "blocked": o.blocked[i]})
    for p in req.holdings:  # no longer listed: nothing to trade; the holding is not valued
        if p.symbol in delisted and p.shares > 0:
            orders.append({"symbol": p.symbol, "side": "sell", "reason": "delisted", "shares": 0,
                           "price": delisted[p.symbol], "value": 0.0, "commission": 0.0, "stamp_duty": 0.0,
                           "impact": 0.0, "cost": 0.0, "wanted_shares": p.shares, "remaining_shares": p.shares,
                           "sessions_to_complete": None, "blocked": "not_listed"})
    orders.sort(key=lambda line: (line["side"] == "buy", -line["value"], line["symbol"]))
    bought = float(np.sum(o.value[o.shares > 0]))
    sold = float(np.sum(o.value[o.shares < 0]))
    return {"as_of": book.date.isoformat(), "board_lot": rules.board_lot, "participation": participation,
            "target_from": "request" if req.target is not None else "ranking",
            "book": {"cash": round(req.capital, 2), "holdings_value": round(value, 2), "value": round(nav, 2)},
            "target": lines, "orders": orders,
            "totals": {"orders": int(np.count_nonzero(o.shares)), "bought": round(bought, 2),
                       "sold": round(sold, 2), "commission": round(float(o.commission.sum()), 2),
                       "stamp_duty": round(float(o.stamp_duty.sum()), 2), "impact": round(float(o.impact.sum()), 2),
                       "cost": round(float(o.cost.sum()), 2), "cash_after": round(o.cash_after, 2)}}


def rebalance(bundle: Bundle, req: RebalanceRequest) -> dict[str, Any]:
    """The response body of ``POST /rebalance`` (see the module docstring)."""
    rules = bundle.manifest.trading
    book = book_for(bundle, req.as_of)
    if rules is None:
        book = dataclasses.replace(book, trading=None)  # no rules recorded: answer 409 like a missing state
    listed = set(book.m_symbol) | set(book.o_symbol)
    wanted = {p.symbol for p in [*req.holdings, *(req.target or [])]} - listed
    delisted: dict[str, float] = {}
    for day in reversed([d for d in bundle.dates if d < book.date]):  # the latest earlier close first
        earlier = bundle.books[day].trading
        if earlier is not None:
            for i in np.flatnonzero(np.isin(earlier.symbol, sorted(wanted - set(delisted)))):
                delisted[str(earlier.symbol[i])] = float(earlier.close[i])
    body = orders_for(book, req, rules or TradingRules(), delisted)
    model = bundle.manifest.model
    return {"as_of": body.pop("as_of"), "model_name": model.name, "model_version": model.version,
            "bundle_id": bundle.manifest.bundle_id, "currency": bundle.manifest.currency, **body}
