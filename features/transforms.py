"""Cross-sectional transforms: named steps applied per date, after the features are built.

Each step maps a feature frame to a frame of the same shape using only rows of the same
date (so it adds no look-ahead). Steps never live inside a feature; a panel lists the
steps it applied in ``panel.attrs["transforms"]``.

- ``rank``: (average rank - 1) / (count - 1) in [0, 1]; 0.5 when a date has one value.
- ``robust_z``: (x - median) / (1.4826 x MAD), clipped to [-5, 5]; 0 where MAD is 0.
- ``industry_neutral``: x minus the median of its industry that date (a missing industry
  is its own group, so without industries this is market-wide demeaning).

NaN in, NaN out; NaNs are ignored by the statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

Z_CLIP = 5.0


def rank(values: pd.DataFrame, dates: pd.Series, industry: pd.Series | None = None) -> pd.DataFrame:
    """Per date, (average rank - 1) / (count - 1) in [0, 1]; 0.5 for a lone value; NaN stays NaN."""
    grouped = values.groupby(dates.to_numpy())
    count = grouped.transform("count")
    ranks = grouped.rank(method="average")
    return ((ranks - 1) / (count - 1)).where(count > 1, 0.5).where(values.notna())


def robust_z(values: pd.DataFrame, dates: pd.Series, industry: pd.Series | None = None) -> pd.DataFrame:
    """Per date, (x - median) / (1.4826 x MAD) clipped to [-5, 5]; 0 where MAD is 0; NaN stays NaN."""
    grouped = values.groupby(dates.to_numpy())
    centred = values - grouped.transform("median")
    mad = centred.abs().groupby(dates.to_numpy()).transform("median") * 1.4826
    z = (centred / mad.where(mad > 0)).clip(-Z_CLIP, Z_CLIP)
    return z.where(mad > 0, 0.0).where(values.notna())


def industry_neutral(values: pd.DataFrame, dates: pd.Series, industry: pd.Series | None = None) -> pd.DataFrame:
    """Per date, x minus its industry's median (a missing industry is one group of its own)."""
    group = industry.fillna("").astype("str").to_numpy() if industry is not None else np.full(len(values), "")
    keys = [dates.to_numpy(), group]
    return values - values.groupby(keys).transform("median")


Transform = Callable[[pd.DataFrame, pd.Series, "pd.Series | None"], pd.DataFrame]
TRANSFORMS: dict[str, Transform] = {"rank": rank, "robust_z": robust_z, "industry_neutral": industry_neutral}


def apply_transforms(panel: pd.DataFrame, steps: Sequence[str], columns: Sequence[str],
                     industry: pd.Series | None = None) -> pd.DataFrame:
    """Apply ``steps`` in order to ``columns`` over the panel's in-universe rows (other rows
    become NaN: the cross-section is the universe). Returns a new panel."""
    unknown = [s for s in steps if s not in TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown transform(s) {unknown}; choose from {sorted(TRANSFORMS)}")
    out = panel.copy()
    members = out["in_universe"].to_numpy(dtype=bool)
    values = out.loc[members, list(columns)]
    dates = out.loc[members, "date"]
    ind = industry.loc[members] if industry is not None else None
    for step in steps:
        values = TRANSFORMS[step](values, dates, ind)
    out[list(columns)] = np.nan
    out.loc[members, list(columns)] = values
    out.attrs["transforms"] = list(steps)
    return out
