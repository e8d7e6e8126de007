"""Models scored in every walk-forward fold: LightGBM (regressor or LambdaRank) and baselines.

All share one interface: ``fit(X, y, dates, valid=None)`` returns ``self``; ``predict(X)``
returns one score per row (higher = expected to do better next month). Rows are used in
the order given within each date (``training.train`` passes the panel's canonical order). ``X`` is the
:func:`features.model_input.model_input` matrix; ``dates`` gives each row's date (the
cross-section); ``valid`` is an optional ``(X, y, dates)`` block for early stopping.

- :class:`GBM` ``kind="regressor"``: L2 regression on the per-date rank label.
- :class:`GBM` ``kind="ranker"``: LambdaRank, one query per date, relevance = the label's
  per-date quantile (0 .. levels-1), truncated at the top ``truncation_level``.
  Both early-stop on the validation block's mean per-date RankIC (Spearman), not on the loss.
- :class:`SingleFactor`: one feature, its sign learned on the training rows (the sign of
  the mean per-date RankIC; the data, not a prior, decide it).
- :class:`RidgeRanks`: ridge regression on the ranked per-stock features (NaN -> the
  training mean, then standardised); segment gauges are left out (the same for every
  stock on a date).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.ic import MIN_COUNT, grouped_ranks, rank_correlations, rank_ic_values

Valid = tuple[pd.DataFrame, pd.Series, pd.Series]


class Model(Protocol):
    """What every model scored in a fold does (see the module docstring)."""

    def fit(self, X: pd.DataFrame, y: pd.Series, dates: pd.Series, valid: Valid | None = None) -> Model:
        """Fit on rows ``X`` with labels ``y`` and their ``dates``; returns ``self``."""
        ...

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """One score per row of ``X`` (higher = expected to do better next month)."""
        ...


def mean_rank_ic(score: np.ndarray, label: np.ndarray, dates: np.ndarray, min_count: int = MIN_COUNT) -> float:
    """Mean over dates of the RankIC (``training.ic``: rows with both values, dates with at
    least ``min_count`` of them and no constant side)."""
    return float(rank_ic_values(score, label, dates, min_count).mean())


class _RankICMetric:
    """LightGBM ``feval``: mean per-date RankIC of the predictions on a fixed validation set
    (the reported RankIC's definition; 0 while every date's predictions are constant)."""

    def __init__(self, label: np.ndarray, dates: np.ndarray) -> None:
        self.ok = np.isfinite(label)
        self.codes = np.unique(np.asarray(dates)[self.ok], return_inverse=True)[1]
        self.label_ranks = grouped_ranks(label[self.ok], self.codes)

    def __call__(self, pred: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
        ic = rank_correlations(grouped_ranks(pred[self.ok], self.codes), self.label_ranks, self.codes)
        return "rank_ic", float(np.nanmean(ic)) if np.isfinite(ic).any() else 0.0, True


class GBM:
    """LightGBM on the features; ``booster_`` and ``best_iteration_`` after ``fit``."""

    def __init__(self, kind: Literal["regressor", "ranker"] = "regressor", params: Mapping[str, Any] | None = None,
                 max_rounds: int = 1000, early_stopping: int = 50, seed: int = 0,
                 relevance_levels: int = 10, truncation_level: int = 50) -> None:
        self.kind = kind
        self.params = dict(params or {})
        self.max_rounds = max_rounds
        self.early_stopping = early_stopping
        self.seed = seed
        self.relevance_levels = relevance_levels
        self.truncation_level = truncation_level

    def _lgb_params(self) -> dict[str, Any]:
        base = {"verbosity": -1, "seed": self.seed, "deterministic": True, "force_row_wise": True,
                "metric": "None", "feature_pre_filter": False}
        if self.kind == "ranker":
            base |= {"objective": "lambdarank", "lambdarank_truncation_level": self.truncation_level}
        else:
            base |= {"objective": "regression"}
        return base | self.params

    def _dataset(self, X: pd.DataFrame, y: pd.Series, dates: pd.Series,
                 reference: lgb.Dataset | None = None) -> tuple[lgb.Dataset, np.ndarray]:
        order = np.argsort(pd.DatetimeIndex(dates).asi8, kind="stable")  # a date's rows together (ranker groups)
        Xs, ys, ds = X.iloc[order], y.to_numpy(dtype="float64")[order], pd.Series(np.asarray(dates)[order])
        label, group = ys, None
        if self.kind == "ranker":
            pct = pd.Series(ys).groupby(ds.to_numpy()).rank(pct=True, method="average").to_numpy()
            label = np.minimum(np.floor(pct * self.relevance_levels), self.relevance_levels - 1).astype("int32")
            group = ds.groupby(ds.to_numpy(), sort=True).size().to_numpy()
        data = lgb.Dataset(Xs, label=label, group=group, reference=reference, free_raw_data=False)
        return data, order

    def fit(self, X: pd.DataFrame, y: pd.Series, dates: pd.Series, valid: Valid | None = None) -> GBM:
        """Fit on the rows, early-stopping on ``valid``'s mean per-date RankIC; returns ``self``."""
        train, _ = self._dataset(X, y, dates)
        callbacks: list[Callable[..., Any]] = []
        valid_sets, feval = [], None
        if valid is not None and len(valid[0]):
            Xv, yv, dv = valid
            vset, vorder = self._dataset(Xv, yv, dv, reference=train)
            feval = _RankICMetric(yv.to_numpy(dtype="float64")[vorder], np.asarray(dv)[vorder])
            valid_sets = [vset]
            callbacks.append(lgb.early_stopping(self.early_stopping, first_metric_only=True, verbose=False))
        self.booster_ = lgb.train(self._lgb_params(), train, num_boost_round=self.max_rounds,
                                  valid_sets=valid_sets, valid_names=["valid"] if valid_sets else None,
                                  feval=feval, callbacks=callbacks)
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        self.valid_rank_ic_ = (self.booster_.best_score.get("valid", {}).get("rank_ic", float("nan"))
                               if valid_sets else float("nan"))
        if self.best_iteration_ < self.booster_.current_iteration():
            # keep only the trees up to the best round, so every consumer sees one model
            self.booster_ = lgb.Booster(model_str=self.booster_.model_to_string(num_iteration=self.best_iteration_))
        self.feature_names_ = list(X.columns)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's score of each row."""
        return np.asarray(self.booster_.predict(X[self.feature_names_]))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-row feature contributions (LightGBM ``pred_contrib``; the bias column dropped)."""
        raw = np.asarray(self.booster_.predict(X[self.feature_names_], pred_contrib=True))
        return pd.DataFrame(raw[:, :-1], columns=self.feature_names_, index=X.index)

    def importance(self) -> pd.Series:
        """Total gain of each feature's splits."""
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.booster_.feature_name(), name="gain").sort_values(ascending=False)


class SingleFactor:
    """Score = sign x feature, the sign fitted on training rows (``sign_``)."""

    def __init__(self, feature: str) -> None:
        self.feature = feature

    def fit(self, X: pd.DataFrame, y: pd.Series, dates: pd.Series, valid: Valid | None = None) -> SingleFactor:
        """Learn the feature's sign from the training rows' mean per-date RankIC; returns ``self``."""
        ic = mean_rank_ic(X[self.feature].to_numpy(dtype="float64"), y.to_numpy(dtype="float64"), np.asarray(dates))
        self.sign_ = -1.0 if ic < 0 else 1.0
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The feature times its sign."""
        return self.sign_ * X[self.feature].to_numpy(dtype="float64")


class RidgeRanks:
    """Ridge regression of the label on the (ranked) per-stock features: NaN -> the training
    mean, then standardised (``model_``: the fitted scikit-learn pipeline)."""

    def __init__(self, columns: list[str], alpha: float = 10.0) -> None:
        self.columns = columns
        self.alpha = alpha

    def fit(self, X: pd.DataFrame, y: pd.Series, dates: pd.Series, valid: Valid | None = None) -> RidgeRanks:
        """Fit the imputer, scaler and ridge on the rows; returns ``self``."""
        self.model_ = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
                                    Ridge(alpha=self.alpha))
        self.model_.fit(X[self.columns].to_numpy(), y.to_numpy(dtype="float64"))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The ridge's prediction for each row."""
        return self.model_.predict(X[self.columns].to_numpy())
