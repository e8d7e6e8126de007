"""Walk-forward training: panel -> folds -> out-of-sample scores -> final model.

Plain functions, no tracking inside (``training.mlflow_run`` logs a :class:`TrainResult`).
Per fold, every model sees the same training window (universe members with a label) and
scores the same test rows (every universe member on the test dates, labelled or not):
LightGBM fits on the window's fit part and early-stops on its validation block; the
baselines, which need no early stopping, fit on the whole window (fit + validation). The
final model is fitted on every labelled date with the same inner validation split, so it is
the model the walk-forward evaluated, refitted on all the data. Rows arrive in the panel's
canonical order (date, symbol), so the same market gives the same models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.dask_panel import build_panel_dask
from features.liquidity import median_amount_20
from features.model_input import model_input
from features.panel import build_panel
from features.registry import REGISTRY, registered
from market.load import Market
from market.partitioned import PartitionedMarket
from training import evaluate as ev
from training.baselines import BASELINES
from training.config import ConfigError, TrainConfig
from training.labels import CROSS_SECTIONS as LABEL_CROSS_SECTIONS
from training.labels import HORIZON, LABELS
from training.models import GBM, Model
from training.threads import resolve_threads
from training.walk_forward import Fold, WalkForward

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances."""
Note = Callable[[str], None]
"""note(line): one line of text per finished step worth reading off a terminal (a fold, the final model)."""

KEYS = ["date", "symbol"]


@dataclass
class TrainingData:
    """The monthly panel (features, labels, liquidity, board, industry) and model inputs."""

    panel: pd.DataFrame
    X: pd.DataFrame
    features: list[str]
    calendar: pd.DatetimeIndex
    source: str = ""
    truth: pd.DataFrame | None = None

    @property
    def members(self) -> np.ndarray:
        """Per panel row: a universe member on its date."""
        return self.panel["in_universe"].to_numpy(dtype=bool)


@dataclass
class TrainResult:
    """One training run: data, folds, out-of-sample predictions and evaluations, the final model."""

    config: TrainConfig
    data: TrainingData
    folds: list[Fold]
    fold_table: pd.DataFrame
    predictions: pd.DataFrame
    evaluations: dict[str, ev.Evaluation]
    slices: dict[str, pd.DataFrame]
    by_year: pd.DataFrame
    final: GBM
    final_fold: Fold
    truth: dict[str, float] | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def model_names(self) -> list[str]:
        """``score`` (LightGBM) and ``baseline_<name>``, in evaluation order."""
        return list(self.evaluations)


def baseline_models(config: TrainConfig, features: list[str]) -> dict[str, Callable[[], Model]]:
    """A fresh-model factory per registered baseline (:mod:`training.baselines`), in order."""
    return {name: partial(make, config.baselines, features) for name, make in BASELINES.items()}


def make_gbm(config: TrainConfig) -> GBM:
    """The LightGBM model the config describes (seeded; ``num_threads`` 0 resolved by
    :func:`training.threads.resolve_threads`)."""
    lg = config.lightgbm
    params = lg.model_dump(exclude={"max_rounds", "early_stopping"})
    params["num_threads"] = resolve_threads(lg.num_threads)
    return GBM(config.model, params, max_rounds=lg.max_rounds, early_stopping=lg.early_stopping, seed=config.seed,
               relevance_levels=config.ranker.relevance_levels, truncation_level=config.ranker.truncation_level)


def splitter(config: TrainConfig) -> WalkForward:
    """The walk-forward splitter the config describes."""
    return WalkForward(**config.walk_forward.model_dump())


def prepare(market: Market | PartitionedMarket, config: TrainConfig, progress: Progress | None = None) -> TrainingData:
    """Build the monthly panel with every feature the run needs, the labels and liquidity (on
    Dask for a partitioned market: :func:`features.dask_panel.build_panel_dask`, the same panel)."""
    chosen = config.features or [f.name for f in registered()]
    needed = list(dict.fromkeys([*chosen, config.baselines.size, config.baselines.reversal,
                                 config.baselines.abnormal_turnover]))
    feats = [REGISTRY[n] for n in needed]
    steps = ["universe", *needed, *LABELS, "median_amount_20"]
    tick = progress or (lambda s, d, t: None)
    counter = iter(range(len(steps)))
    extra = {**LABELS, "median_amount_20": median_amount_20}
    if isinstance(market, PartitionedMarket):  # on the active Dask scheduler, part by part
        panel = build_panel_dask(market, universe=config.universe, features=feats, extra=extra,
                                 cross_sections=LABEL_CROSS_SECTIONS, progress=lambda name: tick(f"features: {name}", 0, 1))
    else:
        panel = build_panel(market, universe=config.universe, features=feats, extra=extra,
                            progress=lambda name: tick(f"features: {name}", next(counter), len(steps)))
    info = market.securities[["symbol", "board", "industry"]].astype({"symbol": "str"})
    panel = panel.merge(info, on="symbol", how="left")
    X = model_input(panel, needed, config.transform)
    truth = None
    gt = Path(market.source) / "ground_truth.parquet"
    if gt.is_file():
        truth = pd.read_parquet(gt, columns=["date", "symbol", "expected_return"])
    return TrainingData(panel=panel, X=X, features=list(chosen), calendar=market.calendar,
                        source=str(market.source), truth=truth)


def check_purge(folds: list[Fold], calendar: pd.DatetimeIndex, labelled: pd.DatetimeIndex | None = None,
                horizon: int = HORIZON) -> None:
    """Every training label used must be realised before the data it is evaluated or used on.

    Only ``labelled`` dates count (default: every date): a label that is not yet realised is
    missing, so its rows are never fitted on (e.g. before a trailing partial month)."""
    pos = {d: i for i, d in enumerate(calendar)}
    for k, f in enumerate(folds):
        fit, train = f.fit, f.train
        if labelled is not None:
            fit, train = fit.intersection(labelled), train.intersection(labelled)
        pairs = [("fit", fit, "valid", f.valid)] + ([("train", train, "test", f.test)] if len(f.test) else [])
        for a_name, a, b_name, b in pairs:
            if len(a) and len(b) and pos[b[0]] - pos[a[-1]] < horizon:
                raise ConfigError(f"fold {k}: the last {a_name} date {a[-1]:%Y-%m-%d} is only "
                                  f"{pos[b[0]] - pos[a[-1]]} market days before the first {b_name} date "
                                  f"{b[0]:%Y-%m-%d}; the label needs {horizon}: raise walk_forward.purge")


def _labelled_dates(data: TrainingData, label: str) -> pd.DatetimeIndex:
    """Dates with at least one universe member whose label is known."""
    return pd.DatetimeIndex(np.unique(data.panel.loc[data.members & data.panel[label].notna(), "date"]))


def _rows(data: TrainingData, dates: pd.DatetimeIndex, labelled: str | None) -> np.ndarray:
    ok = data.members & data.panel["date"].isin(dates).to_numpy()
    if labelled is not None:
        ok &= data.panel[labelled].notna().to_numpy()
    return np.flatnonzero(ok)


def _block(data: TrainingData, rows: np.ndarray, label: str, columns: list[str] | None = None
           ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(X, y, dates) of ``rows``: rows are taken first, so only they are copied."""
    X = data.X.iloc[rows]
    if columns is not None:
        X = X[columns]
    return X, data.panel[label].iloc[rows], data.panel["date"].iloc[rows]


def _fit_gbm(config: TrainConfig, data: TrainingData, fit_rows: np.ndarray, valid_rows: np.ndarray) -> GBM:
    label = config.label_column
    valid = _block(data, valid_rows, label, data.features) if len(valid_rows) else None
    return make_gbm(config).fit(*_block(data, fit_rows, label, data.features), valid=valid)


def _months(dates: pd.DatetimeIndex) -> str:
    """``YYYY-MM`` of one month, ``YYYY-MM..YYYY-MM`` of a span."""
    first, last = f"{dates[0]:%Y-%m}", f"{dates[-1]:%Y-%m}"
    return first if first == last else f"{first}..{last}"


FoldResult = tuple[pd.DataFrame, dict[str, object], str]


def run_fold(data: TrainingData, config: TrainConfig, k: int, fold: Fold, n_folds: int) -> FoldResult:
    """One walk-forward fold: every model's scores on its test rows, its row of the fold table,
    and its ``walk-forward: fold k/n done in ..`` line. A function of its arguments only, so it
    runs the same in this process or as a Dask task."""
    label = config.label_column
    t0 = time.perf_counter()
    fit_rows, valid_rows = _rows(data, fold.fit, label), _rows(data, fold.valid, label)
    test_rows = _rows(data, fold.test, None)
    gbm = _fit_gbm(config, data, fit_rows, valid_rows)
    X_test = data.X.iloc[test_rows]
    out = data.panel.iloc[test_rows][KEYS].copy()
    out["fold"] = k
    out["score"] = gbm.predict(X_test[data.features])
    train_block = _block(data, np.concatenate([fit_rows, valid_rows]), label)
    for name, make in baseline_models(config, data.features).items():
        out[f"baseline_{name}"] = make().fit(*train_block).predict(X_test)
    row = {"fold": k, **{f"{a}_{b}": v for a, s in fold.describe().items() for b, v in
                         zip(("start", "end"), s.split(".."), strict=False)},
           "fit_rows": len(fit_rows), "valid_rows": len(valid_rows), "test_rows": len(test_rows),
           "best_iteration": gbm.best_iteration_, "valid_rank_ic": gbm.valid_rank_ic_}
    line = (f"walk-forward: fold {k + 1}/{n_folds} done in {time.perf_counter() - t0:.1f} s "
            f"(fit {_months(fold.fit)}, test {_months(fold.test)}; {gbm.best_iteration_} rounds)")
    return out, row, line


def pinned_threads(config: TrainConfig) -> TrainConfig:
    """``config`` with LightGBM's thread count resolved here (``num_threads`` 0 = auto), so a fold
    fitted on a Dask worker uses the threads this process would, and scores the same bits."""
    lg = config.lightgbm.model_copy(update={"num_threads": resolve_threads(config.lightgbm.num_threads)})
    return config.model_copy(update={"lightgbm": lg})


def _folds_on_dask(client: Any, data: TrainingData, config: TrainConfig, folds: list[Fold],
                   tick: Progress, note: Note | None) -> list[FoldResult]:
    """Every fold as a task on the client's cluster (the training data sent to each worker
    once); lines and progress as folds finish, results in fold order."""
    from distributed import as_completed

    shared = client.scatter(data, broadcast=True)
    config = pinned_threads(config)
    futures = [client.submit(run_fold, shared, config, k, fold, len(folds), key=f"walk-forward-fold-{k}-{id(data)}",
                             pure=False) for k, fold in enumerate(folds)]
    index = {f.key: k for k, f in enumerate(futures)}
    results: list[FoldResult | None] = [None] * len(folds)
    for done, future in enumerate(as_completed(futures), start=1):
        results[index[future.key]] = result = future.result()
        tick("walk-forward", done, len(folds))
        if note is not None:
            note(result[2])
    return [r for r in results if r is not None]


def run_walk_forward(data: TrainingData, config: TrainConfig, progress: Progress | None = None,
                     note: Note | None = None, client: Any = None) -> tuple[list[Fold], pd.DataFrame, pd.DataFrame]:
    """Out-of-sample scores of every model on every test month, and one row per fold; ``note``
    gets a line per fold: ``walk-forward: fold k/n done in S s (fit .., test ..; R rounds)``.
    With a ``distributed.Client`` the folds run as tasks on its cluster, with the same results."""
    label = config.label_column
    labelled = _labelled_dates(data, label)
    all_dates = pd.DatetimeIndex(np.unique(data.panel.loc[data.members, "date"]))
    folds = [f for f in splitter(config).folds(all_dates) if len(f.fit.intersection(labelled))]
    if not folds:
        raise ConfigError(f"the market has {len(all_dates)} month-ends with universe members; walk-forward "
                          f"needs more than walk_forward.min_train ({config.walk_forward.min_train}) + purge")
    check_purge(folds, data.calendar, labelled)
    tick = progress or (lambda s, d, t: None)
    if client is not None:
        results = _folds_on_dask(client, data, config, folds, tick, note)
    else:
        results = []
        for k, fold in enumerate(folds):
            tick("walk-forward", k, len(folds))
            results.append(run_fold(data, config, k, fold, len(folds)))
            if note is not None:
                note(results[-1][2])
    tick("walk-forward", len(folds), len(folds))
    return folds, pd.concat([r[0] for r in results], ignore_index=True), pd.DataFrame([r[1] for r in results])


def fit_final(data: TrainingData, config: TrainConfig, note: Note | None = None) -> tuple[GBM, Fold]:
    """The model to ship: the same recipe on every labelled month-end; ``note`` gets
    ``final model: fitted in S s (fit .., valid ..; R rounds)``."""
    label = config.label_column
    labelled = _labelled_dates(data, label)
    fold = splitter(config).final(labelled)
    check_purge([fold], data.calendar, labelled)
    t0 = time.perf_counter()
    model = _fit_gbm(config, data, _rows(data, fold.fit, label), _rows(data, fold.valid, label))
    if note is not None:
        valid = f", valid {_months(fold.valid)}" if len(fold.valid) else ""
        note(f"final model: fitted in {time.perf_counter() - t0:.1f} s (fit {_months(fold.fit)}{valid}; "
             f"{model.best_iteration_} rounds)")
    return model, fold


def evaluation_frame(data: TrainingData, predictions: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """Predictions joined with labels, excess return, liquidity quintile, board, industry."""
    cols = [*KEYS, config.label_column, "label_excess_return_21", "median_amount_20", "board", "industry"]
    frame = predictions.merge(data.panel[cols], on=KEYS, how="left")
    frame = frame.rename(columns={config.label_column: "label", "label_excess_return_21": "excess_return"})
    frame["liquidity"] = ev.liquidity_quintile(frame, "median_amount_20")
    if data.truth is not None:
        frame = frame.merge(data.truth, on=KEYS, how="left")
    return frame


def train(market: Market | PartitionedMarket, config: TrainConfig, progress: Progress | None = None,
          note: Note | None = None, client: Any = None) -> TrainResult:
    """Panel, walk-forward, evaluation and final model for one market and configuration
    (``note``: a line per fold and one for the final model). With a ``distributed.Client`` the
    walk-forward folds run on its cluster (and a partitioned market's panel is built there)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = prepare(market, config, progress)
    timings["features_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    folds, predictions, fold_table = run_walk_forward(data, config, progress, note, client=client)
    timings["walk_forward_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    final, final_fold = fit_final(data, config, note)
    timings["final_model_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = evaluation_frame(data, predictions, config)
    e = config.evaluation
    scores = ["score", *[c for c in predictions.columns if c.startswith("baseline_")]]
    evaluations = {s: ev.evaluate(frame, score=s, top_n=e.top_n, quantiles=e.quantiles) for s in scores}
    names = {s: "model" if s == "score" else s.removeprefix("baseline_") for s in scores}
    by_year = pd.concat({names[s]: ev.evaluate_slices(frame, "year", score=s, top_n=e.top_n, quantiles=e.quantiles)
                         for s in scores}, names=["model"])
    slices = {"year": by_year.loc["model"]} | {by: ev.evaluate_slices(frame, by, top_n=e.top_n, quantiles=e.quantiles)
                                               for by in ("liquidity", "board", "industry")}
    truth = ev.truth_ratio(frame) if "expected_return" in frame else None
    timings["evaluation_s"] = time.perf_counter() - t0
    return TrainResult(config=config, data=data, folds=folds, fold_table=fold_table, predictions=frame,
                       evaluations=evaluations, slices=slices, by_year=by_year, final=final, final_fold=final_fold,
                       truth=truth, timings=timings)
