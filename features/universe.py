"""The micro-cap universe, rebuilt every day from data known that day.

A stock-day is excluded for the first reason that applies, in this order (the reason code
is kept in ``exclusion_reason``; members have none):

- ``st``: under a special-treatment / delisting-risk flag that day;
- ``new_listing``: listed fewer than ``min_listed_days`` market days (list_date counts as
  day 1; before the calendar starts, weekdays stand in for market days);
- ``untradable``: suspended (zero volume) or limit-locked that day;
- ``penny``: raw close below ``penny_price`` on at least ``penny_days`` of the stock's last
  20 sessions (fewer sessions count as they are: this is a guard, not a feature);
- ``negative_book``: latest announced book_equity < 0;
- ``loss_small_revenue``: latest announced net_income_ttm < 0 and revenue_ttm < ``min_revenue``;
- ``illiquid``: no trading (zero-volume or missing row) on more than ``max_idle_share`` of
  the last 20 market days;
- ``not_smallest`` (``smallest_n``: eligible but not among the ``n`` smallest market caps
  that day, ties broken by symbol) or ``outside_band`` (``cap_band``: market cap outside
  [low, high] in the market's currency).

Missing fundamentals exclude nothing (they are unknown, not bad). The delisting date is
never used: it is future information.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.history import History

REASONS = ("st", "new_listing", "untradable", "penny", "negative_book", "loss_small_revenue",
           "illiquid", "not_smallest", "outside_band")
IDLE_WINDOW = 20
PENNY_WINDOW = 20


class UniverseConfig(BaseModel):
    """How the universe is chosen (defaults: the A-share micro-cap index's 400 smallest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["smallest_n", "cap_band"] = Field("smallest_n", description="smallest_n | cap_band")
    n: int = Field(400, ge=1, description="members of smallest_n")
    band: tuple[float, float] = Field((50e6, 300e6), description="cap_band's [low, high] market cap (currency)")
    min_listed_days: int = Field(250, ge=0, description="market days listed before a stock is eligible")
    penny_price: float = Field(1.0, ge=0, description="raw close below which a session counts as penny")
    penny_days: int = Field(5, ge=1, le=PENNY_WINDOW, description=f"penny sessions of the last {PENNY_WINDOW} "
                                                                   "that exclude")
    min_revenue: float = Field(100e6, ge=0, description="a loss-maker below this revenue_ttm is excluded")
    max_idle_share: float = Field(0.25, ge=0, lt=1, description=f"share of the last {IDLE_WINDOW} market days "
                                                                 "without trading above which a stock is illiquid")

    @model_validator(mode="after")
    def _band(self) -> UniverseConfig:
        low, high = self.band
        if not 0 <= low < high:
            raise ValueError(f"cap band must satisfy 0 <= low < high, got {self.band}")
        return self

    @classmethod
    def from_spec(cls, universe: Mapping[str, Any]) -> UniverseConfig:
        """The universe a training run logged (``feature_spec.json``'s ``universe``; runs logged
        before every setting was recorded give kind, n and band, the rest are the defaults)."""
        return cls.model_validate(dict(universe))


def listed_days(h: History) -> np.ndarray:
    """Market days since listing, list_date included (weekdays before the calendar starts)."""
    sec = h.securities.set_index("symbol")["list_date"]
    list_date = sec.reindex(h.bars["symbol"].cat.categories).to_numpy(dtype="datetime64[ns]")
    return h.cal_idx - h.day_number(list_date)[h.symbol_code] + 1


def _window_count(flag: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per row i: number of True in flag[start[i] : i + 1] (integer cumsum, exact)."""
    cs = np.r_[0, np.cumsum(flag, dtype=np.int64)]
    return cs[np.arange(1, len(flag) + 1)] - cs[start]


def build_universe(h: History, config: UniverseConfig = UniverseConfig()) -> pd.DataFrame:
    """``in_universe`` (bool) and ``exclusion_reason`` (categorical of :data:`REASONS`, NaN for
    members), aligned to ``h.bars``; see the module docstring for the rules."""
    code = screen(h, config)
    select(h, code, h.bars["market_cap"].to_numpy(), config)
    return membership(code, h.bars.index)


def screen(h: History, config: UniverseConfig = UniverseConfig()) -> np.ndarray:
    """The exclusions each stock's own history decides (every reason before the size rule), as
    an index into :data:`REASONS` per row; -1 where none applies."""
    n = h.n
    bars = h.bars
    rows = np.arange(n, dtype=np.int64)
    st = bars["st"].to_numpy(dtype=bool) if "st" in bars else np.zeros(n, bool)

    penny_start = np.maximum(rows - (PENNY_WINDOW - 1), h.group_start)
    penny = _window_count(bars["close"].to_numpy() < config.penny_price, penny_start) >= config.penny_days

    key = h.row_key
    idle_start = np.maximum(np.searchsorted(key, key - (IDLE_WINDOW - 1)), h.group_start)
    traded = _window_count(bars["volume"].to_numpy() > 0, idle_start)
    days = np.minimum(IDLE_WINDOW, h.cal_idx + 1)
    idle = 1.0 - traded / days > config.max_idle_share

    fund = h.fundamentals
    with np.errstate(invalid="ignore"):
        negative_book = fund["book_equity"].to_numpy() < 0
        loss_small = (fund["net_income_ttm"].to_numpy() < 0) & (fund["revenue_ttm"].to_numpy() < config.min_revenue)

    checks = {
        "st": st,
        "new_listing": listed_days(h) < config.min_listed_days,
        "untradable": ~bars["tradable"].to_numpy(dtype=bool),
        "penny": penny,
        "negative_book": negative_book,
        "loss_small_revenue": loss_small,
        "illiquid": idle,
    }
    code = np.full(n, -1, dtype=np.int8)
    for i, name in enumerate(REASONS[:len(checks)]):
        code[(code < 0) & checks[name]] = i
    return code


def select(h: History, code: np.ndarray, cap: np.ndarray, config: UniverseConfig = UniverseConfig()) -> None:
    """The size rule, in place on ``code`` (:func:`screen`'s): ``not_smallest`` for eligible
    rows beyond the ``n`` smallest ``cap`` of their day (ties in row order, i.e. by symbol), or
    ``outside_band``. Reads each day's whole cross-section (``h.rows_by_day``)."""
    if config.kind == "smallest_n":
        not_smallest = REASONS.index("not_smallest")
        for rows in h.rows_by_day:
            eligible = rows[code[rows] < 0]
            if len(eligible) > config.n:
                ranked = eligible[np.argsort(cap[eligible], kind="stable")]
                code[ranked[config.n:]] = not_smallest
    else:
        low, high = config.band
        code[(code < 0) & ((cap < low) | (cap > high))] = REASONS.index("outside_band")


def membership(code: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """``in_universe`` and ``exclusion_reason`` from reason codes (-1: a member)."""
    reason = pd.Categorical.from_codes(code, categories=list(REASONS))
    return pd.DataFrame({"in_universe": code < 0, "exclusion_reason": reason}, index=index)
