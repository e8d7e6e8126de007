"""Information coefficients: how well a column ranks next month's label, date by date.

RankIC on a date = Spearman correlation between a feature and a label over that date's
universe members with both values (Pearson correlation of their average ranks). Dates
with fewer than ``min_count`` such members, or a constant side, give no value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MIN_COUNT = 20


def grouped_ranks(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Average ranks (1..n, ties share their mean rank) of ``values`` within each group code."""
    return pd.Series(values).groupby(codes).rank(method="average").to_numpy()


def rank_correlations(x_ranks: np.ndarray, y_ranks: np.ndarray, codes: np.ndarray,
                      min_count: int = MIN_COUNT) -> np.ndarray:
    """Per group code 0..k-1: Pearson correlation of the two rank arrays; NaN for a group with
    fewer than ``min_count`` rows or a constant side."""
    n = np.bincount(codes).astype("float64")
    xc = x_ranks - (np.bincount(codes, x_ranks) / n)[codes]
    yc = y_ranks - (np.bincount(codes, y_ranks) / n)[codes]
    sxy, sxx, syy = (np.bincount(codes, a * b) for a, b in ((xc, yc), (xc, xc), (yc, yc)))
    denom = np.sqrt(sxx * syy)
    out = np.full(len(n), np.nan)
    ok = (denom > 1e-12) & (n >= min_count)
    out[ok] = sxy[ok] / denom[ok]
    return out


def rank_ic_values(score: np.ndarray, label: np.ndarray, dates: np.ndarray, min_count: int = MIN_COUNT) -> pd.Series:
    """RankIC per date over the rows where score and label are both finite (dates sorted)."""
    score, label = np.asarray(score, dtype="float64"), np.asarray(label, dtype="float64")
    ok = np.isfinite(score) & np.isfinite(label)
    days, codes = np.unique(np.asarray(dates)[ok], return_inverse=True)
    if not len(days):
        return pd.Series(dtype="float64")
    ic = rank_correlations(grouped_ranks(score[ok], codes), grouped_ranks(label[ok], codes), codes, min_count)
    return pd.Series(ic, index=pd.Index(days, name="date"))


def rank_ic_by_date(panel: pd.DataFrame, feature: str, label: str = "label_rerating",
                    min_count: int = MIN_COUNT) -> pd.Series:
    """RankIC of ``feature`` against ``label`` per date over universe members."""
    rows = panel.loc[panel["in_universe"].to_numpy(dtype=bool), ["date", feature, label]]
    ic = rank_ic_values(rows[feature].to_numpy(), rows[label].to_numpy(), rows["date"].to_numpy(), min_count)
    return ic.dropna().rename(feature)


def ic_summary(panel: pd.DataFrame, features: Sequence[str], label: str = "label_rerating") -> pd.DataFrame:
    """Per feature: mean RankIC, its std, ICIR (mean / std), t-stat (ICIR x sqrt(months)),
    share of dates with a positive IC, and the number of dates."""
    out = {}
    for name in features:
        ic = rank_ic_by_date(panel, name, label)
        n = len(ic)
        std = ic.std(ddof=1) if n > 1 else np.nan
        icir = ic.mean() / std if n > 1 and std > 0 else np.nan
        out[name] = {"mean_ic": ic.mean() if n else np.nan, "std_ic": std, "icir": icir,
                     "t_stat": icir * np.sqrt(n) if n > 1 else np.nan,
                     "positive": (ic > 0).mean() if n else np.nan, "dates": n}
    return pd.DataFrame.from_dict(out, orient="index")
