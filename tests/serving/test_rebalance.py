"""``/rebalance`` on a real exported bundle: a realistic book gets a target and orders that keep
every rule (lots, the cap, suspensions and limit locks, leavers with their reason, the
backtest's costs); bad books get a 4xx naming the holding; old bundles a 409."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orders import CostModel
from serving.bundle import Bundle
from serving.ranking import RequestError
from serving.rebalance import orders_for, rebalance
from serving.schemas import Position, RebalanceRequest, RebalanceResponse


def _book(bundle: Bundle, capital: float = 5e7, **extra) -> tuple[RebalanceRequest, dict]:
    """A book of 20 members (half of them inside the top 50), two stocks outside the universe."""
    latest = bundle.books[bundle.dates[-1]]
    held = [Position(symbol=str(s), shares=20_000 + 50 * k) for k, s in enumerate(latest.m_symbol[40:60])]
    held += [Position(symbol=str(s), shares=3_000) for s in latest.o_symbol[:2]]
    req = RebalanceRequest(capital=capital, holdings=held, top_n=50, **extra)
    return req, RebalanceResponse.model_validate(rebalance(bundle, req)).model_dump()


def test_a_realistic_book_gets_orders_that_keep_every_rule(bundle: Bundle) -> None:
    req, body = _book(bundle)
    state = bundle.books[bundle.dates[-1]].trading
    assert state is not None and body["board_lot"] == bundle.manifest.trading.board_lot == 100
    at = {s: i for i, s in enumerate(state.symbol)}
    held = {p.symbol: p.shares for p in req.holdings}
    value = sum(q * state.close[at[s]] for s, q in held.items())
    assert body["book"]["value"] == pytest.approx(req.capital + value, abs=0.01)
    target = {t["symbol"]: t["shares"] for t in body["target"]}
    assert len(target) <= 50 and all(q % 100 == 0 for q in target.values())
    assert all(t["value"] <= body["book"]["value"] / 50 + 1e-6 for t in body["target"])
    costs = CostModel.model_validate(bundle.manifest.trading.costs.model_dump())
    cap_share = body["participation"]
    sides = {}
    for o in body["orders"]:
        i = at[o["symbol"]]
        sides[o["symbol"]] = o["side"]
        wanted = target.get(o["symbol"], 0) - held.get(o["symbol"], 0)
        assert o["wanted_shares"] == abs(wanted) and o["side"] == ("buy" if wanted > 0 else "sell")
        assert o["remaining_shares"] == abs(wanted) - o["shares"]
        whole_exit = o["side"] == "sell" and o["shares"] == held.get(o["symbol"])
        assert o["shares"] % 100 == 0 or whole_exit
        assert o["shares"] * state.close[i] <= cap_share * state.median_amount[i] + 1e-6
        if o["side"] == "buy":
            assert not (state.suspended[i] or state.limit_up_locked[i]) or o["shares"] == 0
        else:
            assert not (state.suspended[i] or state.limit_down_locked[i]) or o["shares"] == 0
        c, d, m = costs.costs(o["side"], np.array([o["value"]]), np.array([state.median_amount[i]]))
        assert (o["commission"], o["stamp_duty"], o["impact"]) == pytest.approx((c[0], d[0], m[0]), abs=0.011)
        if o["symbol"] in held and o["symbol"] not in target:
            expected = state.reason[i] or "not_in_target"
            assert o["reason"] == expected
    for p in req.holdings[-2:]:  # outside the universe: sold, with the universe's reason
        assert sides[p.symbol] == "sell" and state.reason[at[p.symbol]] is not None
    totals = body["totals"]
    assert totals["cash_after"] == pytest.approx(req.capital + totals["sold"] - totals["bought"] - totals["cost"],
                                                 abs=0.05)
    assert totals["cash_after"] >= 0 and totals["orders"] > 10


def test_a_rebalance_under_way_keeps_its_target_and_the_same_book_gets_the_same_orders(bundle: Bundle) -> None:
    req, first = _book(bundle)
    _, again = _book(bundle)
    assert again == first  # reproducible
    carried = RebalanceRequest(capital=req.capital, holdings=req.holdings,
                               target=[Position(symbol=t["symbol"], shares=t["shares"]) for t in first["target"]])
    body = rebalance(bundle, carried)
    assert body["target_from"] == "request" and body["orders"] == first["orders"]


def test_holdings_not_listed_or_given_twice_are_422_naming_them(bundle: Bundle) -> None:
    latest = bundle.books[bundle.dates[-1]]
    ok = str(latest.m_symbol[0])
    req = RebalanceRequest(capital=1e6, holdings=[Position(symbol=ok, shares=100), Position(symbol="NOPE", shares=1),
                                                  Position(symbol=ok, shares=200)])
    with pytest.raises(RequestError) as caught:
        rebalance(bundle, req)
    assert caught.value.status == 422
    assert [d["loc"] for d in caught.value.detail] == [["holdings", 1, "symbol"], ["holdings", 2, "symbol"]]
    assert "NOPE is not listed on as_of or any earlier served date" in caught.value.message
    assert "given twice" in caught.value.message


def test_a_bundle_exported_before_orders_is_409(bundle: Bundle) -> None:
    book = dataclasses.replace(bundle.books[bundle.dates[-1]], trading=None)
    with pytest.raises(RequestError) as caught:
        orders_for(book, RebalanceRequest(capital=1e6), bundle.manifest.trading)
    assert caught.value.status == 409 and "spotlight refresh" in caught.value.message


def test_target_and_top_n_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        RebalanceRequest(capital=1.0, target=[], top_n=5)


def _without(bundle: Bundle, symbol: str) -> Bundle:
    """The bundle with ``symbol`` gone from its latest date, as if delisted since the one before."""
    latest = bundle.books[bundle.dates[-1]]
    keep_o = latest.o_symbol != symbol
    keep_t = latest.trading.symbol != symbol
    trading = dataclasses.replace(latest.trading, **{f.name: getattr(latest.trading, f.name)[keep_t]
                                                     for f in dataclasses.fields(latest.trading)})
    book = dataclasses.replace(latest, trading=trading, **{name: getattr(latest, name)[keep_o] for name in
                                                           ("o_symbol", "o_reason", "o_board", "o_industry", "o_cap",
                                                            "o_amount")})
    return dataclasses.replace(bundle, books={**bundle.books, bundle.dates[-1]: book})


def test_a_holding_delisted_since_is_a_sale_that_cannot_trade_not_an_error(bundle: Bundle) -> None:
    earlier = bundle.books[bundle.dates[-2]]
    gone = next(str(s) for s in earlier.trading.symbol if s in set(bundle.books[bundle.dates[-1]].o_symbol))
    served = _without(bundle, gone)
    held = [Position(symbol=gone, shares=700), Position(symbol=str(earlier.m_symbol[0]), shares=100)]
    body = rebalance(served, RebalanceRequest(capital=1e6, holdings=held, top_n=5))
    line = next(o for o in body["orders"] if o["symbol"] == gone)
    close = float(earlier.trading.close[list(earlier.trading.symbol).index(gone)])
    assert (line["reason"], line["blocked"], line["shares"], line["remaining_shares"]) == ("delisted", "not_listed",
                                                                                         0, 700)
    assert line["price"] == close and body["totals"]["orders"] == len([o for o in body["orders"] if o["shares"]])
    assert gone not in {t["symbol"] for t in body["target"]}
    state = served.books[served.dates[-1]].trading
    assert body["book"]["holdings_value"] == pytest.approx(
        100 * state.close[list(state.symbol).index(str(earlier.m_symbol[0]))], abs=0.01)  # the delisted one: 0
