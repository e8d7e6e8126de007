"""Realised performance of served rankings, once each one's horizon has passed.

For a served date t, the stocks the model ranked (the universe members of the bundle's
snapshot, with their ONNX scores) meet what the market then did: the forward excess return
of :func:`training.labels.label_excess_return_21` (next session's open to the close 21 market
days later, minus the universe mean), computed from a market that now reaches past t + 21.

- ``rank_ic``: Spearman correlation of score and forward excess return over the members with
  both;
- ``top_n_excess``: the mean forward excess return of the ``top_n`` members by score;
- a date counts only once its horizon has passed for most members (at least half have a
  forward return), and only when it is after the model's training window (out of sample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.panel import build_panel
from features.universe import UniverseConfig
from market.load import Market
from training.labels import HORIZON, label_excess_return_21

COLUMNS = ["date", "rank_ic", "top_n_excess", "members", "horizon_end"]


def forward_excess(market: Market, universe: UniverseConfig, dates: list[pd.Timestamp]) -> pd.DataFrame:
    """``date, symbol, in_universe, excess`` on ``dates`` (trading days of ``market``)."""
    days = [d for d in pd.DatetimeIndex(dates) if d in market.calendar]
    if not days:  # typed, so a merge on date still works (an object column would not merge with dates)
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "symbol": pd.Series(dtype=object),
                             "in_universe": pd.Series(dtype=bool), "excess": pd.Series(dtype="float64")})
    panel = build_panel(market, universe=universe, dates=days, features=[],
                        extra={"excess": label_excess_return_21})
    return panel[["date", "symbol", "in_universe", "excess"]]


def realised(scores: pd.DataFrame, market: Market, universe: UniverseConfig, top_n: int,
             after: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per matured served date after ``after`` (see the module docstring); ``scores``
    holds ``date, symbol, score`` of the members the model ranked."""
    scores = scores.assign(date=pd.to_datetime(scores["date"]))
    if after is not None:
        scores = scores[scores["date"] > after]
    dates = sorted(scores["date"].unique())
    outcome = forward_excess(market, universe, dates)
    joined = scores.merge(outcome[["date", "symbol", "excess"]], on=["date", "symbol"], how="left")
    calendar = market.calendar
    rows = []
    for day, group in joined.groupby("date", sort=True):
        known = group.dropna(subset=["score", "excess"])
        if len(known) < max(2, len(group) / 2):
            continue  # the horizon has not passed yet (or too few members to measure)
        top = known.nlargest(min(top_n, len(known)), "score")
        position = calendar.searchsorted(day)
        rows.append({"date": day, "rank_ic": float(known["score"].rank().corr(known["excess"].rank())),
                     "top_n_excess": float(top["excess"].mean()), "members": len(known),
                     "horizon_end": calendar[min(position + HORIZON, len(calendar) - 1)]})
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["rank_ic"] = out["rank_ic"].astype("float64").replace([np.inf, -np.inf], np.nan)
    return out
