"""Request and response bodies of the ranking service, validated at the edge.

Requests forbid unknown fields and coerce nothing: a string is not a number, a float is not
an integer, ``true`` is not a number. BentoML answers a body that breaks these rules with
HTTP 400 and pydantic's error list (``detail[].loc`` is the field path).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

Int = Annotated[int, Strict()]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=32)]  # a symbol or a board
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
FeatureValue = Annotated[float, Strict()] | None


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _not_null(schema: dict) -> None:
    """A field's JSON schema without its ``null`` branch: leave the field out instead."""
    branches = schema.pop("anyOf", [])
    schema.update(next((b for b in branches if b.get("type") != "null"), {}))
    schema.pop("default", None)


class UniverseFilter(_Request):
    """Narrows the model's universe: the ``smallest_n`` members by market cap, or the members
    whose market cap lies in ``cap_band`` = [low, high] (the market's currency, whole units, as
    ``currency`` in each ranking and GET /model name it). Give exactly one."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["smallest_n"]}, {"required": ["cap_band"]}]})
    smallest_n: Annotated[Int, Field(ge=1)] | None = Field(None, json_schema_extra=_not_null)
    cap_band: tuple[Annotated[Float, Field(ge=0)], Annotated[Float, Field(ge=0)]] | None = Field(
        None, json_schema_extra=_not_null)

    @model_validator(mode="after")
    def _one(self) -> UniverseFilter:
        given_null = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if given_null:
            raise ValueError(f"{given_null[0]} may not be null: give exactly one of smallest_n and cap_band, "
                             "and leave the other out")
        if (self.smallest_n is None) == (self.cap_band is None):
            raise ValueError("give exactly one of smallest_n and cap_band")
        if self.cap_band is not None and not self.cap_band[0] < self.cap_band[1]:
            raise ValueError(f"cap_band must be [low, high] with low < high, got {list(self.cap_band)}")
        return self


class Exclude(_Request):
    """Boards and symbols to drop from the ranking."""

    boards: list[Name] = Field(default_factory=list, max_length=100)
    symbols: list[Name] = Field(default_factory=list, max_length=10_000)


class RankRequest(_Request):
    """A ranking request: date, how many, which universe, exclusions, liquidity assumptions."""

    as_of: dt.date | None = Field(None, description="A served date (GET /model lists them); default: the latest.")
    top_n: Annotated[Int, Field(ge=1, le=10_000)] = 50
    universe: UniverseFilter | None = None
    exclude: Exclude | None = None
    include_excluded: Annotated[bool, Strict()] = Field(
        False, description="Also list every excluded stock of the date after the ranked ones, with its reason.")
    # ge, not gt: BentoML writes OpenAPI 3.0.2, where pydantic's numeric exclusiveMinimum is invalid
    participation_cap: Annotated[Float, Field(ge=1e-6, le=1)] = Field(
        0.1, description="Share of the 20-day median traded amount one may trade per day.")
    days: Annotated[Int, Field(ge=1, le=250)] = Field(1, description="Trading days to build or exit a position.")


class Driver(BaseModel):
    """One of the strongest contributions to a stock's score."""

    feature: str = Field(description="The feature's name (GET /model lists them).")
    label: str = Field(description="What the feature measures, in words, e.g. 'Return, last month'.")
    contribution: float = Field(description="LightGBM pred_contrib of the feature to this score (score units, "
                                            "6 decimals); positive raises the score.")
    value: float | None = Field(description="The feature's raw (untransformed) value, 4 significant digits.")


class Liquidity(BaseModel):
    """How much of a stock can be bought: the 20-day median amount and the position it allows."""

    median_amount_20: float | None = Field(description="Median daily traded amount over the last 20 sessions "
                                                       "before as_of, in the market's currency, whole units.")
    max_position: float | None = Field(
        description="participation_cap x median_amount_20 x days: the largest position that can be built or "
                    "exited within the cap, in the market's currency, whole units.")


class RankedStock(BaseModel):
    """One stock of a ranking (an excluded one has no score or rank, and says why)."""

    symbol: str
    score: float | None = Field(description="The model's score (predicted re-rating, 6 decimals); null if "
                                            "excluded. Compare within one date: rank and percentile do.")
    rank: int | None = Field(description="1 = highest score among the (filtered) universe; null if excluded.")
    percentile: float | None = Field(description="(n - rank) / (n - 1) within the filtered universe of n: 1 for "
                                                 "the top, 0 for the bottom; a fraction, like every share in "
                                                 "this API.")
    in_universe: bool
    exclusion_reason: str | None
    board: str | None
    industry: str | None
    market_cap: float | None = Field(description="close x shares_total on as_of, in the market's currency, "
                                                 "whole units.")
    drivers: list[Driver]
    liquidity: Liquidity


class Crowding(BaseModel):
    """The micro-cap segment's crowding on ``date``, from data up to that day: each gauge and
    its percentile within its trailing window (GET /model: ``crowding.rule``)."""

    date: dt.date
    regime: Literal["unknown", "normal", "elevated", "crowded"] = Field(
        description="crowded: micro-cap turnover share in the top of its trailing year while micro-caps are no "
                    "longer cheap (valuation-spread percentile low or unknown); elevated: turnover share high; "
                    "unknown: too little history.")
    turnover_share: float | None = Field(description="Universe share of all traded amount over 20 market days.")
    turnover_share_pctile: float | None = Field(description="Percentile of turnover_share in its trailing window, "
                                                            "a fraction in [0, 1].")
    bp_spread: float | None = Field(description="Median B/P of the universe minus that of all stocks.")
    bp_spread_pctile: float | None = Field(description="Percentile of bp_spread in its trailing window, a "
                                                       "fraction in [0, 1].")


class RankResponse(BaseModel):
    """A ranking: the date, the model, the universe and the stocks in rank order."""

    as_of: dt.date
    model_name: str
    model_version: str
    bundle_id: str
    currency: str | None = Field(description="ISO 4217 code of every money amount in this answer (market_cap, "
                                             "median_amount_20, max_position); null for a bundle exported "
                                             "before it was recorded.")
    universe_size: int = Field(description="Members of the filtered universe on as_of.")
    crowding: Crowding | None = Field(description="The segment's crowding regime on as_of (null for a bundle "
                                                  "exported without it).")
    stocks: list[RankedStock]


class ScoreRow(BaseModel):
    """``symbol`` plus one field per model feature (GET /model lists them, in the model's
    input space: per-stock features ranked in [0, 1] among the day's universe, segment gauges
    raw). ``null`` or NaN marks a missing value, which the model routes as in training."""

    model_config = ConfigDict(extra="allow", strict=True)
    __pydantic_extra__: dict[str, FeatureValue] = Field(init=False)
    symbol: Name


class ScoreRequest(_Request):
    """Rows of model-input features to score."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=True)
    rows: list[ScoreRow]


class Score(BaseModel):
    """One row's score."""

    symbol: str
    score: float


class ScoreResponse(BaseModel):
    """The scores, in the order of the rows given."""

    model_name: str
    model_version: str
    bundle_id: str
    scores: list[Score]


class Realised(BaseModel):
    """A served date whose horizon has passed: how its ranking did."""

    date: dt.date
    model_version: str
    rank_ic: float | None = Field(description="Spearman correlation of score and the realised 21-day excess return.")
    top_n_excess: float = Field(description="Mean realised 21-day excess return of the top N (a fraction).")
    members: int
    horizon_end: dt.date


class FeatureDrift(BaseModel):
    """One feature's population stability index against the champion's training data."""

    feature: str
    label: str
    psi: float | None = Field(description="PSI of the model's input (the feature ranked within its date): what "
                                          "the model sees change, such as values going missing or piling up on "
                                          "one value. Below 0.1 stable, 0.1 to 0.25 shifting, above 0.25 "
                                          "drifted; the alert reads it.")
    psi_training: float | None = Field(None, description="The largest psi of one training reference month against "
                                                         "the others: how much the input moved while the model "
                                                         "trained; the alert needs psi above it too.")
    psi_level: float | None = Field(None, description="PSI of the raw values: the market's own move (null in a "
                                                      "report written before it was measured).")


class Drift(BaseModel):
    """Feature drift on the latest served date."""

    date: dt.date
    reference: str
    features: list[FeatureDrift]


class Alert(BaseModel):
    """Whether the live model needs attention, and why."""

    state: Literal["ok", "alert"]
    reasons: list[str]


class MonitorReport(BaseModel):
    """The live model's report (``spotlight monitor``): realised figures by served date, drift,
    crowding and the alert state."""

    generated_at: str
    data_end: dt.date
    model: dict[str, str]
    bundle: str
    realised: list[Realised]
    drift: Drift
    crowding: dict[str, Any] | None
    alert: Alert
    rule: dict[str, Any]


Shares = Annotated[Int, Field(ge=0, le=10**12)]


class Position(_Request):
    """A number of shares of one stock."""

    symbol: Name
    shares: Shares = Field(description="Shares (real ones, not lots).")


class RebalanceRequest(_Request):
    """A book and how to rebalance it: the cash, the holdings, and either a new target from
    the ranking of ``as_of`` (``top_n``, ``weighting``) or a ``target`` already under way."""

    capital: Annotated[Float, Field(ge=0, le=1e15)] = Field(
        description="The book's cash, besides its holdings, in the market's currency (GET /model: currency). "
                    "The book's value is capital + the holdings at the last close.")
    holdings: list[Position] = Field(default_factory=list, max_length=10_000,
                                     description="What the book holds now; each symbol once.")
    as_of: dt.date | None = Field(None, description="A served date (GET /model lists them): its ranking and its "
                                                    "close; default: the latest. Orders are for the next session.")
    top_n: Annotated[Int, Field(ge=1, le=10_000)] = Field(100, description="Names in the new target.")
    weighting: Literal["equal", "score"] = Field("equal", description="equal: 1/N each; score: proportional to "
                                                                      "the score above the lowest chosen one.")
    participation: Annotated[Float, Field(ge=1e-6, le=1)] | None = Field(
        None, description="Daily cap per stock, a share of its 20-market-day median traded amount; default: the "
                          "bundle's (GET /model: trading.participation).")
    target: list[Position] | None = Field(
        None, max_length=10_000,
        description="Continue a rebalance under way: these target positions (an earlier answer's `target`) "
                    "instead of a new target from the ranking; then give neither top_n nor weighting.")

    @model_validator(mode="after")
    def _one_target(self) -> RebalanceRequest:
        if self.target is not None and self.model_fields_set & {"top_n", "weighting"}:
            raise ValueError("give target, or top_n/weighting for a new one, not both")
        return self


class TargetLine(BaseModel):
    """One position of the target portfolio."""

    symbol: str
    rank: int | None = Field(description="Rank by score among the universe on as_of (null outside it).")
    weight: float = Field(description="Target value / the book's value (a fraction).")
    shares: int | float = Field(description="Target shares: whole board lots (a fraction only with board_lot 0).")
    price: float = Field(description="The last close on as_of.")
    value: float = Field(description="shares x price, in the market's currency.")


class OrderLine(BaseModel):
    """One stock to trade: the next session's order and what is left after it."""

    symbol: str
    side: Literal["buy", "sell"]
    reason: str = Field(description="new_position, add, trim, not_in_target, or, for a holding that left the "
                                    "universe, its exclusion reason (st, delisting, illiquid, ...); delisted for "
                                    "a holding no longer listed.")
    shares: int | float = Field(description="The next session's order, whole board lots (a sale of a whole holding may "
                                      "end in an odd lot); 0 when blocked.")
    price: float = Field(description="The last close on as_of, at which value and costs are estimated.")
    value: float
    commission: float
    stamp_duty: float
    impact: float = Field(description="value x impact_bps x 1e-4 x sqrt(value / 20-day median amount).")
    cost: float = Field(description="commission + stamp_duty + impact.")
    wanted_shares: int | float = Field(description="|target - held|: the whole trade.")
    remaining_shares: int | float = Field(description="What is left for later sessions after this one.")
    sessions_to_complete: int | None = Field(description="Sessions, the next included, to finish at the cap; null "
                                                         "while suspended or without liquidity.")
    blocked: str | None = Field(description="Why the next session gets no order: suspended, limit_up_locked (no "
                                            "buy), limit_down_locked (no sell), no_liquidity, cash, not_listed "
                                            "(delisted: nothing to trade); else null.")


class BookValue(BaseModel):
    """The book at the close of as_of."""

    cash: float
    holdings_value: float
    value: float


class OrderTotals(BaseModel):
    """The next session's orders together."""

    orders: int
    bought: float
    sold: float
    commission: float
    stamp_duty: float
    impact: float
    cost: float
    cash_after: float = Field(description="The cash once the session's orders are done and paid.")


class RebalanceResponse(BaseModel):
    """The target portfolio and the next session's orders."""

    as_of: dt.date
    model_name: str
    model_version: str
    bundle_id: str
    currency: str | None
    board_lot: int
    participation: float
    target_from: Literal["ranking", "request"]
    book: BookValue
    target: list[TargetLine]
    orders: list[OrderLine]
    totals: OrderTotals
