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


def rank_ic_by_date(panel: pd.DataFrame, feature: str, label: str = "label_rerating",
                    min_count: int = MIN_COUNT) -> pd.Series:
    """RankIC of ``feature`` against ``label`` per date over universe members."""
    rows = panel.loc[panel["in_universe"], ["date", feature, label]].dropna()
    if rows.empty:
        return pd.Series(dtype="float64", name=feature)
    by_date = rows.groupby("date")
    x = by_date[feature].rank()
    y = by_date[label].rank()
    frame = pd.DataFrame({"date": rows["date"], "x": x, "y": y})
    frame["x"] -= frame.groupby("date")["x"].transform("mean")
    frame["y"] -= frame.groupby("date")["y"].transform("mean")
    sums = pd.DataFrame({"xy": frame["x"] * frame["y"], "xx": frame["x"] ** 2, "yy": frame["y"] ** 2,
                         "n": 1.0, "date": frame["date"]}).groupby("date").sum()
    denom = np.sqrt(sums["xx"] * sums["yy"])
    ic = (sums["xy"] / denom.where(denom > 0)).where(sums["n"] >= min_count)
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
