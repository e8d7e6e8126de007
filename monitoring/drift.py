"""How far the live features drifted from those the champion was trained on.

The population stability index of a feature compares the live distribution (the universe
members on the latest served date) with a reference (the members on the champion's last
``REFERENCE_MONTHS`` training month-ends), over the reference's decile bins plus one bin for
a missing value:

    PSI = sum over bins of (live% - ref%) x ln(live% / ref%), shares floored at 1e-4.

The usual reading: below 0.1 stable, 0.1 to 0.25 shifting, above 0.25 drifted.

Two PSIs per feature:

- ``psi`` (the alert's): of the **model's input**, the per-stock feature as
  :func:`features.model_input.model_input` gives it to the model (with ``transform="rank"``:
  ranked within each date, ties at their average rank), over the fixed deciles of [0, 1]
  plus the missing bin. A continuous feature's ranks fill every decile alike on every date,
  so only what a tree split can see moves it.
  A move of the whole cross-section (every stock's volatility up in a crash, market caps up
  in a bull market, days since the last report moving through the quarter) leaves it
  unchanged, as it leaves the model's inputs; what the model does see moves it: a share of
  values going missing, or piling up on one value (stocks locked at the limit, a feed
  writing zeros), which a ranking turns into ties.
- ``psi_training``: the largest ``psi`` of one reference month against the other reference
  months: how much the model's input already moved from month to month while it trained.
  Features that are mostly one value (no trade, no limit hit) rank into large ties whose
  rank moves with their share; on the simulated markets such a feature's input passed
  PSI 0.25 on every training month-end against the 12 before it. The alert
  (:mod:`monitoring.alerts`) therefore asks for a PSI above both the limit and this.
- ``psi_level``: of the raw values: the market's move itself, for the reader (the crowding
  regime and the realised RankIC say whether it matters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.model_input import Transform
from features.transforms import apply_transforms

FLOOR = 1e-4
REFERENCE_MONTHS = 12
RANK_EDGES = np.linspace(0, 1, 11)[1:-1]  # ranks in [0, 1]: fixed deciles, the same on every date


def psi(reference: np.ndarray, live: np.ndarray, bins: int = 10, edges: np.ndarray | None = None) -> float:
    """The population stability index of ``live`` against ``reference`` over the reference's
    ``bins`` quantile bins, or over fixed inner ``edges`` (see the module docstring)."""
    reference, live = np.asarray(reference, dtype="float64"), np.asarray(live, dtype="float64")
    known = reference[~np.isnan(reference)]
    if not len(known) or not len(live):
        return float("nan")
    if edges is None:
        edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))

    def shares(values: np.ndarray) -> np.ndarray:
        present = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
        return np.maximum(np.append(counts, np.isnan(values).sum()) / len(values), FLOOR)

    ref, now = shares(reference), shares(live)
    return float(np.sum((now - ref) * np.log(now / ref)))


def drift(reference: pd.DataFrame, live: pd.DataFrame, features: list[str],
          transform: Transform = "rank") -> pd.DataFrame:
    """``feature, psi, psi_training, psi_level`` from universe members' raw values of per-stock
    ``features`` (``date`` and the features in both frames), the most drifted model input first."""
    if transform == "none":
        ref, now, edges = reference, live, None
    else:
        ref, now = (apply_transforms(f.assign(in_universe=True), [transform], features) for f in (reference, live))
        edges = RANK_EDGES
    months = ref["date"].to_numpy()
    rows = []
    for f in features:
        values = ref[f].to_numpy()
        within = [psi(values[months != m], values[months == m], edges=edges) for m in np.unique(months)]
        rows.append({"feature": f, "psi": psi(values, now[f].to_numpy(), edges=edges),
                     "psi_training": max(within) if len(within) > 1 else float("nan"),
                     "psi_level": psi(reference[f].to_numpy(), live[f].to_numpy())})
    return pd.DataFrame(rows, columns=["feature", "psi", "psi_training", "psi_level"]).sort_values(
        "psi", ascending=False, kind="stable", ignore_index=True)
