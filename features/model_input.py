"""The model's input matrix, built the same way in training and in serving.

Per-stock features are ranked per date among universe members (``transform="rank"``: the
``rank`` transform, values in [0, 1], NaN kept for LightGBM to route) so a model learns
cross-sectional orderings that do not drift with market levels; rows outside the universe
become NaN. Segment gauges (the same value for every stock on a date) stay raw: they
describe the regime, and ranking them would make them constant. Uses only each date's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd

from features.registry import REGISTRY, registered
from features.transforms import apply_transforms

Transform = Literal["rank", "none"]


def model_input(panel: pd.DataFrame, names: Sequence[str], transform: Transform = "rank") -> pd.DataFrame:
    """float64 frame with the columns ``names`` in that order, aligned to ``panel``'s rows."""
    registered()
    missing = [n for n in names if n not in panel.columns]
    if missing:
        raise KeyError(f"panel lacks feature column(s) {missing}")
    per_stock = [n for n in names if n in REGISTRY and REGISTRY[n].family != "segment"]
    frame = panel[["date", "in_universe", *names]].copy()
    if transform == "rank" and per_stock:
        frame = apply_transforms(frame, ["rank"], per_stock)
    elif transform not in ("rank", "none"):
        raise ValueError(f"transform must be rank or none, got {transform!r}")
    return frame[list(names)].astype("float64")
