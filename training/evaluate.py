"""Evaluation: pure functions over out-of-sample predictions.

The input is a long frame with one row per (date, symbol) of universe stocks in test months:
``date``, ``symbol``, a score column, ``label`` (the per-date rank label in [0, 1]) and
``excess_return`` (the forward 21-day return minus that date's universe mean, so a monthly
figure: nothing here annualises). Rows with a NaN score are ignored everywhere, as are rows
with ``in_universe`` False where that column exists. Every metric is computed per date over
that date's cross-section; summaries are plain means over dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.ic import MIN_COUNT, rank_ic_values

__all__ = ["MIN_COUNT", "SUMMARY_KEYS", "Evaluation", "evaluate", "evaluate_slices", "hit_rate", "ic",
           "ic_stats", "liquidity_quintile", "long_short", "quantile_returns", "rank_ic", "top_n_returns",
           "top_n_turnover", "truth_ratio"]

SUMMARY_KEYS = ("rank_ic", "rank_ic_std", "icir", "t_stat", "rank_ic_positive", "months", "ic", "hit_rate",
                "top_decile_excess", "top50_excess", "long_short", "top50_turnover")


def _scored(frame: pd.DataFrame, score: str) -> pd.DataFrame:
    """Rows with a score (universe members only, where ``in_universe`` exists)."""
    rows = frame[frame[score].notna()]
    if "in_universe" in rows:
        rows = rows[rows["in_universe"].fillna(False).astype(bool)]
    return rows


def _buckets(values: pd.Series, dates: pd.Series, quantiles: int) -> pd.Series:
    """Per-date bucket 1..quantiles of ``values`` (1 = lowest): ``pd.qcut`` of the per-date rank
    r = 1..m (ties broken by row order), computed exactly as max(1, ceil(quantiles (r-1) / (m-1))).
    NaN values, and dates with fewer than ``quantiles`` values, give NaN."""
    by_date = values.groupby(dates)
    rank, m = by_date.rank(method="first"), by_date.transform("count")
    bucket = np.ceil(quantiles * (rank - 1) / (m - 1).clip(lower=1)).clip(lower=1)
    return bucket.where(m >= quantiles).astype(float)


def _top(frame: pd.DataFrame, n: int, score: str) -> pd.DataFrame:
    """Each date's ``n`` highest scores, ties broken by symbol ascending; dates with fewer than
    ``n`` scored rows are skipped."""
    rows = _scored(frame, score).sort_values(["date", score, "symbol"], ascending=[True, False, True])
    rows = rows[rows.groupby("date")[score].transform("size") >= n]
    return rows.groupby("date").head(n)


def rank_ic(frame: pd.DataFrame, score: str = "score", label: str = "label",
            min_count: int = MIN_COUNT) -> pd.Series:
    """Per-date Spearman correlation of ``score`` with ``label`` (``training.ic.rank_ic_values``):
    rows missing either are dropped; dates with fewer than ``min_count`` complete rows, or a
    constant side, give no value."""
    rows = _scored(frame, score)
    ic = rank_ic_values(rows[score].to_numpy(), rows[label].to_numpy(), rows["date"].to_numpy(), min_count)
    return ic.dropna().rename("rank_ic")


def ic(frame: pd.DataFrame, score: str = "score", label: str = "label", min_count: int = MIN_COUNT) -> pd.Series:
    """Per-date Pearson correlation of ``score`` with ``label``, same NaN and ``min_count`` policy as
    :func:`rank_ic`."""
    rows = _scored(frame, score)[["date", score, label]].dropna()
    if rows.empty:
        return pd.Series(dtype="float64", name="ic")
    by_date = rows.groupby("date")
    x = rows[score] - by_date[score].transform("mean")
    y = rows[label] - by_date[label].transform("mean")
    sums = pd.DataFrame({"xy": x * y, "xx": x**2, "yy": y**2}).groupby(rows["date"]).sum()
    varied = (by_date[[score, label]].nunique().min(axis=1) > 1) & (by_date.size() >= min_count)
    return (sums["xy"] / np.sqrt(sums["xx"] * sums["yy"]))[varied].rename("ic")


def ic_stats(ic: pd.Series) -> dict[str, float]:
    """Mean, std (ddof=1), ICIR = mean / std, t-stat = ICIR x sqrt(n), share of dates > 0 and
    n (``months``) of a per-date IC series; NaN values are dropped, NaN where undefined."""
    ic = ic.dropna()
    n = len(ic)
    mean = float(ic.mean()) if n else np.nan
    std = float(ic.std(ddof=1)) if n > 1 else np.nan
    icir = mean / std if std > 0 else np.nan
    return {"mean": mean, "std": std, "icir": icir, "t_stat": icir * np.sqrt(n),
            "positive": float((ic > 0).mean()) if n else np.nan, "months": float(n)}


def quantile_returns(frame: pd.DataFrame, score: str = "score", ret: str = "excess_return",
                     quantiles: int = 10) -> pd.DataFrame:
    """Index date, columns 1..quantiles (1 = lowest score): mean ``ret`` of each per-date score
    quantile. Buckets use the score only (NaN-``ret`` rows still count there, not in the mean);
    dates with fewer scored stocks than ``quantiles`` are skipped."""
    rows = _scored(frame, score)
    bucket = _buckets(rows[score], rows["date"], quantiles).rename("quantile")
    out = rows[ret].groupby([rows["date"], bucket]).mean().unstack()
    out.columns = out.columns.astype(int)
    return out.reindex(columns=pd.RangeIndex(1, quantiles + 1, name="quantile")).astype(float)


def top_n_returns(frame: pd.DataFrame, n: int = 50, score: str = "score", ret: str = "excess_return") -> pd.Series:
    """Per date: mean ``ret`` of the ``n`` highest scores (ties by symbol ascending; NaN ``ret``
    excluded after selection). Dates with fewer than ``n`` scored stocks give no value."""
    return _top(frame, n, score).groupby("date")[ret].mean().rename("top_n")


def long_short(quantiles: pd.DataFrame) -> pd.Series:
    """Per date: top quantile minus bottom quantile (columns of :func:`quantile_returns`)."""
    return (quantiles.iloc[:, -1] - quantiles.iloc[:, 0]).rename("long_short")


def top_n_turnover(frame: pd.DataFrame, n: int = 50, score: str = "score") -> pd.Series:
    """Per date from the second on: 1 - |top_n(t) & top_n(t-1)| / n, where t-1 is the previous
    date with a top-n list (same selection and tie rule as :func:`top_n_returns`)."""
    sets = [(date, frozenset(g)) for date, g in _top(frame, n, score).groupby("date")["symbol"]]
    values = {date: 1.0 - len(now & before) / n for (_, before), (date, now) in zip(sets, sets[1:], strict=False)}
    return pd.Series(values, dtype="float64", name="turnover").rename_axis("date")


def hit_rate(frame: pd.DataFrame, score: str = "score", ret: str = "excess_return", quantiles: int = 10) -> pd.Series:
    """Per date: share of top-quantile stocks (buckets as in :func:`quantile_returns`) with
    ``ret`` > 0, over those with a ``ret``."""
    rows = _scored(frame, score)
    top = rows.loc[_buckets(rows[score], rows["date"], quantiles) == quantiles, ["date", ret]].dropna()
    return (top[ret] > 0).groupby(top["date"]).mean().rename("hit_rate")


@dataclass(frozen=True)
class Evaluation:
    """Per-date metrics, the quantile return table, and their means over dates."""

    by_date: pd.DataFrame
    quantiles: pd.DataFrame
    summary: dict[str, float]


def evaluate(frame: pd.DataFrame, score: str = "score", label: str = "label", ret: str = "excess_return",
             top_n: int = 50, quantiles: int = 10, min_count: int = MIN_COUNT) -> Evaluation:
    """All metrics of this module on one frame. ``by_date`` columns: rank_ic, ic, top_decile (top
    quantile), top50 (top ``top_n``), long_short, top50_turnover, hit_rate; ``summary``: RankIC
    stats plus the mean of each column over its dates (NaN where there is none)."""
    table = quantile_returns(frame, score, ret, quantiles)
    columns = {"rank_ic": rank_ic(frame, score, label, min_count), "ic": ic(frame, score, label, min_count),
               "top_decile": table[quantiles], "top50": top_n_returns(frame, top_n, score, ret),
               "long_short": long_short(table), "top50_turnover": top_n_turnover(frame, top_n, score),
               "hit_rate": hit_rate(frame, score, ret, quantiles)}
    by_date = pd.concat(columns, axis=1, sort=True).rename_axis("date").astype(float)
    stats = ic_stats(by_date["rank_ic"])
    means = by_date.mean()
    summary = {"rank_ic": stats["mean"], "rank_ic_std": stats["std"], "icir": stats["icir"],
               "t_stat": stats["t_stat"], "rank_ic_positive": stats["positive"], "months": stats["months"],
               "ic": means["ic"], "hit_rate": means["hit_rate"], "top_decile_excess": means["top_decile"],
               "top50_excess": means["top50"], "long_short": means["long_short"],
               "top50_turnover": means["top50_turnover"]}
    return Evaluation(by_date, table, {key: float(value) for key, value in summary.items()})


def evaluate_slices(frame: pd.DataFrame, by: str, score: str = "score", label: str = "label",
                    ret: str = "excess_return", top_n: int = 50, quantiles: int = 10,
                    min_count: int = MIN_COUNT) -> pd.DataFrame:
    """One row per value of column ``by`` (``"year"`` is derived from ``date`` when absent): the
    :func:`evaluate` summary of the frame restricted to that slice, so each date's cross-section
    is the slice's stocks only. Rows with a NaN ``by`` are left out; small slices give NaN."""
    if by == "year" and "year" not in frame:
        frame = frame.assign(year=frame["date"].dt.year)
    rows = {value: evaluate(group, score, label, ret, top_n, quantiles, min_count).summary
            for value, group in frame.groupby(by, observed=True, sort=True)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(SUMMARY_KEYS)).rename_axis(by)


def liquidity_quintile(frame: pd.DataFrame, column: str) -> pd.Series:
    """Per-date quintile 1..5 of ``column`` (1 = smallest, e.g. least traded), by rank with ties in
    row order; NaN values, and dates with fewer than five values, give <NA> (Int64)."""
    return _buckets(frame[column], frame["date"], 5).astype("Int64").rename("liquidity")


def truth_ratio(frame: pd.DataFrame, score: str = "score", truth: str = "expected_return", label: str = "label",
                min_count: int = MIN_COUNT) -> dict[str, float]:
    """On a simulated market: mean RankIC of the model score and of the ground truth against the
    label, both over the rows with score, truth and label, and over the dates where both have a
    RankIC; ``truth_ratio`` = model / truth (the share of the achievable RankIC captured)."""
    rows = _scored(frame, score).dropna(subset=[truth, label])
    model, true = rank_ic(rows, score, label, min_count), rank_ic(rows, truth, label, min_count)
    dates = model.index.intersection(true.index)
    m, t = float(model.loc[dates].mean()), float(true.loc[dates].mean())
    return {"model_rank_ic": m, "truth_rank_ic": t, "truth_ratio": m / t if t != 0 else np.nan}
