"""Crowding of the micro-cap segment: the daily segment gauges and a regime flag.

Gauges, one value per trading day (the registry's segment features, which are the same for
every stock on a day):

- ``turnover_share``: ``microcap_turnover_share_20``, the universe's share of all traded
  amount over 20 market days;
- ``bp_spread``: ``microcap_bp_spread``, median B/P of the universe minus that of all stocks
  (high: micro-caps cheap against the market; NaN without fundamentals).

Regime on day t, from each gauge's percentile within its own trailing ``window`` market days
up to and including t (``Rolling.rank(pct=True)``; needs ``min_periods`` known values):

- ``crowded``: turnover-share percentile >= ``high`` and valuation-spread percentile
  <= ``rich`` (heavily traded and no longer cheap); the turnover test alone when the spread
  is unknown;
- ``elevated``: turnover-share percentile >= ``elevated``, not crowded;
- ``normal``: otherwise; ``unknown``: too little turnover-share history.

Look-ahead: the universe and both gauges use data up to t, the percentiles trailing windows
ending at t, so removing every day after t leaves day t unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.history import History
from features.segment import microcap_bp_spread, microcap_turnover_share_20
from features.universe import UniverseConfig, build_universe
from market.load import Market

GAUGES = {"turnover_share": microcap_turnover_share_20, "bp_spread": microcap_bp_spread}
REGIMES = ("unknown", "normal", "elevated", "crowded")


class CrowdingRule(BaseModel):
    """The regime rule (see the module docstring); validated when built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(252, ge=2, description="market days of history for each gauge's percentile")
    min_periods: int = Field(120, ge=1, description="known values needed before a regime is given")
    high: float = Field(0.9, gt=0, le=1, description="crowded: turnover-share percentile >= high ...")
    elevated: float = Field(0.8, gt=0, le=1, description="elevated: turnover-share percentile >= elevated")
    rich: float = Field(0.5, ge=0, le=1, description="... and valuation-spread percentile <= rich "
                                                     "(or the spread unknown)")

    @model_validator(mode="after")
    def _consistent(self) -> CrowdingRule:
        if not self.min_periods <= self.window:
            raise ValueError(f"need 1 <= min_periods <= window, got {self.min_periods}, {self.window}")
        if not self.elevated <= self.high:
            raise ValueError(f"need 0 < elevated <= high <= 1, got elevated {self.elevated}, high {self.high}")
        return self

    def as_dict(self) -> dict[str, float]:
        """The rule as plain values (the manifest's ``crowding.rule``)."""
        return self.model_dump()


def segment_gauges(market: Market, universe: UniverseConfig = UniverseConfig()) -> pd.DataFrame:
    """``turnover_share`` and ``bp_spread`` on every trading day of ``market`` (index: date)."""
    h = History(market)
    h.attach_universe(build_universe(h, universe)["in_universe"].to_numpy())
    days = pd.RangeIndex(len(h.calendar))
    out = {name: feature(h).groupby(h.cal_idx).first().reindex(days).to_numpy()
           for name, feature in GAUGES.items()}
    return pd.DataFrame(out, index=pd.DatetimeIndex(h.calendar, name="date"))


def crowding_regime(gauges: pd.DataFrame, rule: CrowdingRule = CrowdingRule()) -> pd.DataFrame:
    """``gauges`` plus ``turnover_share_pctile``, ``bp_spread_pctile`` and ``regime``."""
    out = gauges.copy()
    for name in GAUGES:
        out[f"{name}_pctile"] = gauges[name].rolling(rule.window, min_periods=rule.min_periods).rank(pct=True)
    share, spread = out["turnover_share_pctile"], out["bp_spread_pctile"]
    rich = spread.isna() | (spread <= rule.rich)
    regime = np.select([share.isna(), (share >= rule.high) & rich, share >= rule.elevated],
                       ["unknown", "crowded", "elevated"], "normal")
    out["regime"] = pd.Categorical(regime, categories=REGIMES, ordered=True)
    return out


def crowding(market: Market, universe: UniverseConfig = UniverseConfig(),
             rule: CrowdingRule = CrowdingRule()) -> pd.DataFrame:
    """:func:`segment_gauges` then :func:`crowding_regime`."""
    return crowding_regime(segment_gauges(market, universe), rule)
