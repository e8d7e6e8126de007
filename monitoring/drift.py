"""How far the live features drifted from those the champion was trained on.

The population stability index of a feature compares the live distribution (the universe
members on the latest served date) with a reference (the members on the champion's last
``REFERENCE_MONTHS`` training month-ends), over the reference's decile bins plus one bin for
a missing value:

    PSI = sum over bins of (live% - ref%) x ln(live% / ref%), shares floored at 1e-4.

The usual reading: below 0.1 stable, 0.1 to 0.25 shifting, above 0.25 drifted. Raw feature
values are compared (the model's ranked inputs are uniform by construction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOOR = 1e-4
REFERENCE_MONTHS = 12


def psi(reference: np.ndarray, live: np.ndarray, bins: int = 10) -> float:
    """The population stability index of ``live`` against ``reference`` (see the module docstring)."""
    reference, live = np.asarray(reference, dtype="float64"), np.asarray(live, dtype="float64")
    known = reference[~np.isnan(reference)]
    if not len(known) or not len(live):
        return float("nan")
    edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))

    def shares(values: np.ndarray) -> np.ndarray:
        present = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
        return np.maximum(np.append(counts, np.isnan(values).sum()) / len(values), FLOOR)

    ref, now = shares(reference), shares(live)
    return float(np.sum((now - ref) * np.log(now / ref)))


def drift(reference: pd.DataFrame, live: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """``feature, psi``, the most drifted first."""
    rows = [{"feature": f, "psi": psi(reference[f].to_numpy(), live[f].to_numpy())} for f in features]
    return pd.DataFrame(rows, columns=["feature", "psi"]).sort_values("psi", ascending=False, kind="stable",
                                                                      ignore_index=True)
