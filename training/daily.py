"""The daily-frequency model: every universe stock on every day, trained on a Dask cluster with
``lightgbm.dask.DaskLGBMRegressor``, against the monthly model on the same out-of-sample rows.

One split, purged. Test: the month-ends of the last ``test_months`` months, every universe
member (the rows a manager is served). Training: every day up to ``train_end``, the last
trading day whose 21-day label is realised on or before the first test date (so no label
used in training looks past the test's start). Both models read the same ranked inputs
(:func:`features.model_input.model_input`, per date over the universe):

- **monthly**: the final model's recipe on the month-ends up to ``train_end``: fitted on all but
  the last ``walk_forward.valid`` of them (less the purge) and early-stopped on those (here);
- **daily**: every day up to the same last fit month-end (about 21 times the rows, with
  overlapping labels), on the cluster with ``walk_forward.max_rounds`` trees, then cut to the
  number with the best RankIC on the same validation month-ends (``lightgbm.dask`` has no early
  stopping of its own). The daily panel never comes to this process; only month-ends do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.dask_panel import panel_on_cluster
from features.model_input import model_input
from features.panel import panel_dates
from features.registry import REGISTRY, registered
from market.partitioned import PartitionedMarket
from training import evaluate as ev
from training.config import ConfigError, TrainConfig
from training.labels import CROSS_SECTIONS, HORIZON, LABELS
from training.models import mean_rank_ic
from training.train import make_gbm, splitter

Say = Callable[[str], None]


@dataclass
class DailyComparison:
    """Out-of-sample evaluations of the daily and the monthly model on the same test rows."""

    evaluations: dict[str, ev.Evaluation]
    rows: dict[str, int]
    train_end: pd.Timestamp
    test_dates: pd.DatetimeIndex
    rounds: dict[str, int]
    predictions: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per model: rows trained on and the headline out-of-sample figures."""
        keys = ("rank_ic", "icir", "t_stat", "top_decile_excess", "top50_excess", "long_short")
        return pd.DataFrame({name: {"train_rows": self.rows[name], "rounds": self.rounds[name],
                                    **{k: e.summary[k] for k in keys}}
                             for name, e in self.evaluations.items()}).T


def _inputs(part: pd.DataFrame, names: list[str], transform: Any, keep: list[str]) -> pd.DataFrame:
    """A partition of whole dates: the ranked model inputs, with the keys and the label columns."""
    ranked = model_input(part, names, transform)
    return pd.concat([part[keep].reset_index(drop=True), ranked.reset_index(drop=True)], axis=1)


def train_end_for(calendar: pd.DatetimeIndex, first_test: pd.Timestamp, horizon: int = HORIZON) -> pd.Timestamp:
    """The last trading day whose ``horizon``-day label is realised on or before ``first_test``."""
    pos = calendar.get_loc(first_test) - horizon
    if pos < 0:
        raise ConfigError(f"no trading day's label is realised before {first_test:%Y-%m-%d}")
    return calendar[pos]


def best_rounds(booster: Any, X: pd.DataFrame, label: np.ndarray, dates: np.ndarray, patience: int) -> int:
    """The number of trees with the best mean per-date RankIC on a validation block, scanning
    1, 2, ... until ``patience`` rounds bring no gain (the early stopping of
    :class:`training.models.GBM`, applied after the fit)."""
    best, best_k = -np.inf, 1
    for k in range(1, booster.current_iteration() + 1):
        score = mean_rank_ic(booster.predict(X, num_iteration=k), label, dates)
        if score > best:
            best, best_k = score, k
        elif k - best_k >= patience:
            break
    return best_k


def compare_daily(market: PartitionedMarket, config: TrainConfig, client: Any, test_months: int = 24,
                  say: Say | None = None) -> DailyComparison:
    """Fit both models (see the module docstring) and evaluate them on the test month-ends."""
    from lightgbm.dask import DaskLGBMRegressor

    note = say or (lambda line: None)
    timings: dict[str, float] = {}
    names = config.features or [f.name for f in registered()]
    label = config.label_column
    month_ends = panel_dates(market.calendar, "monthly")
    if len(month_ends) < test_months + config.walk_forward.valid + 3:
        raise ConfigError(f"{len(month_ends)} month-ends are too few to test the last {test_months}")
    test_dates = month_ends[-test_months:]
    train_end = train_end_for(market.calendar, test_dates[0])

    t0 = time.perf_counter()
    keep = ["date", "symbol", label, "label_excess_return_21"]
    extra = {name: LABELS[name] for name in dict.fromkeys([label, "label_excess_return_21"])}
    lazy = panel_on_cluster(market, universe=config.universe, freq="daily", features=[REGISTRY[n] for n in names],
                            extra=extra, cross_sections=CROSS_SECTIONS, progress=lambda step: note(f"daily panel: {step}"))
    members = lazy[lazy["in_universe"]]
    meta = _inputs(members._meta, names, config.transform, keep)
    inputs = members.shuffle(on="date").map_partitions(_inputs, names, config.transform, keep, meta=meta).persist()
    monthly = inputs[inputs["date"].isin(month_ends)].compute()
    monthly = monthly.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)
    timings["panel_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    labelled = pd.DatetimeIndex(np.unique(monthly.loc[monthly[label].notna() & (monthly["date"] <= train_end), "date"]))
    fold = splitter(config).final(labelled)
    fit = monthly[monthly["date"].isin(fold.fit) & monthly[label].notna()]
    valid = monthly[monthly["date"].isin(fold.valid) & monthly[label].notna()]
    gbm = make_gbm(config).fit(fit[names], fit[label], fit["date"],
                               valid=(valid[names], valid[label], valid["date"]) if len(valid) else None)
    timings["monthly_fit_s"] = time.perf_counter() - t0
    note(f"monthly model: {len(fit)} rows up to {fold.fit[-1]:%Y-%m-%d}, {gbm.best_iteration_} rounds by the "
         "validation months' RankIC")

    t0 = time.perf_counter()
    train = inputs[(inputs["date"] <= fold.fit[-1]) & ~inputs[label].isna()]
    params = config.lightgbm.model_dump(exclude={"max_rounds", "early_stopping", "num_threads"})
    daily = DaskLGBMRegressor(client=client, n_estimators=config.lightgbm.max_rounds, random_state=config.seed,
                              verbose=-1, **params)
    daily.fit(train[names], train[label])
    booster = daily.to_local().booster_
    daily_rounds = best_rounds(booster, valid[names], valid[label].to_numpy(), valid["date"].to_numpy(),
                               config.lightgbm.early_stopping) if len(valid) else booster.current_iteration()
    daily_rows = int(train.shape[0].compute())
    timings["daily_fit_s"] = time.perf_counter() - t0
    note(f"daily model: {daily_rows} rows up to {fold.fit[-1]:%Y-%m-%d} on the cluster, "
         f"{daily_rounds} rounds by the validation months' RankIC")

    test = monthly[monthly["date"].isin(test_dates)].copy()
    test["monthly"] = gbm.predict(test[names])
    test["daily"] = booster.predict(test[names], num_iteration=daily_rounds)
    frame = test.rename(columns={label: "label", "label_excess_return_21": "excess_return"})
    e = config.evaluation
    evaluations = {name: ev.evaluate(frame, score=name, top_n=e.top_n, quantiles=e.quantiles)
                   for name in ("daily", "monthly")}
    rows = {"daily": daily_rows, "monthly": len(fit)}
    rounds = {"daily": daily_rounds, "monthly": int(gbm.best_iteration_)}
    return DailyComparison(evaluations, rows, train_end, test_dates, rounds,
                           frame[["date", "symbol", "label", "excess_return", "daily", "monthly"]], timings)
