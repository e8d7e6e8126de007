"""Models: planted signals are found, signs are learned from data, results are reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.models import GBM, RidgeRanks, SingleFactor, mean_rank_ic

PARAMS = {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.1, "num_threads": 1}


def _cross_sections(dates: int = 16, stocks: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """label = per-date rank of -(a - 0.5)^2 + 0.3 b + noise: a U-shaped and a linear signal."""
    rng = np.random.default_rng(seed)
    day = np.repeat(pd.date_range("2020-01-31", periods=dates, freq="ME"), stocks)
    X = pd.DataFrame({"a": rng.random(len(day)), "b": rng.random(len(day)), "noise": rng.random(len(day))})
    X.loc[rng.random(len(day)) < 0.05, "noise"] = np.nan  # missing values are allowed
    raw = -((X["a"] - 0.5) ** 2) * 4 + 0.3 * X["b"] + rng.normal(0, 0.1, len(day))
    y = raw.groupby(day).rank(pct=True)
    return X, y, pd.Series(day)


def _split(X, y, d, at: int):
    cut = d < d.unique()[at]
    return (X[cut], y[cut], d[cut]), (X[~cut], y[~cut], d[~cut])


@pytest.mark.parametrize("kind", ["regressor", "ranker"])
def test_gbm_finds_a_non_linear_planted_signal(kind: str) -> None:
    X, y, d = _cross_sections()
    (Xa, ya, da), (Xb, yb, db) = _split(X, y, d, 12)
    valid = _split(Xa, ya, da, 9)[1]
    fit = _split(Xa, ya, da, 9)[0]
    model = GBM(kind, PARAMS, max_rounds=300, early_stopping=20).fit(*fit, valid=valid)
    ic = mean_rank_ic(model.predict(Xb), yb.to_numpy(), db.to_numpy())
    assert ic > 0.6
    assert model.best_iteration_ == model.booster_.current_iteration() < 300  # stopped early, trees trimmed
    assert model.valid_rank_ic_ > 0.5
    assert model.importance().index[0] == "a"


def test_gbm_is_reproducible_and_contributions_add_up() -> None:
    X, y, d = _cross_sections(dates=6)
    a = GBM("regressor", PARAMS | {"bagging_fraction": 0.7, "bagging_freq": 1}, max_rounds=40, seed=3).fit(X, y, d)
    b = GBM("regressor", PARAMS | {"bagging_fraction": 0.7, "bagging_freq": 1}, max_rounds=40, seed=3).fit(X, y, d)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    contrib = a.contributions(X)
    bias = a.booster_.predict(X, pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contrib.sum(axis=1) + bias, a.predict(X), rtol=1e-9, atol=1e-9)


def test_ranker_groups_follow_dates_whatever_the_date_order() -> None:
    X, y, d = _cross_sections(dates=6)
    reverse = np.concatenate([np.flatnonzero(d.to_numpy() == day) for day in d.unique()[::-1]])
    a = GBM("ranker", PARAMS, max_rounds=30).fit(X, y, d)
    b = GBM("ranker", PARAMS, max_rounds=30).fit(X.iloc[reverse], y.iloc[reverse], d.iloc[reverse])
    np.testing.assert_allclose(a.predict(X), b.predict(X))  # dates reordered, rows within a date kept


def test_single_factor_learns_its_sign_from_the_training_rows() -> None:
    X, y, d = _cross_sections()
    X["anti"] = -X["b"]
    model = SingleFactor("anti").fit(X, y, d)
    assert model.sign_ == -1.0
    np.testing.assert_array_equal(model.predict(X), X["b"].to_numpy())
    assert SingleFactor("b").fit(X, y, d).sign_ == 1.0


def test_ridge_on_ranks_finds_the_linear_part() -> None:
    X, y, d = _cross_sections()
    model = RidgeRanks(["a", "b", "noise"], alpha=1.0).fit(X, y, d)
    coef = dict(zip(["a", "b", "noise"], model.model_[-1].coef_, strict=True))
    assert coef["b"] > 0.02 > abs(coef["noise"])
    assert np.isfinite(model.predict(X)).all()  # NaN filled with the training mean


def test_mean_rank_ic_matches_scipy_and_skips_missing() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    s, y = rng.normal(size=60), rng.normal(size=60)
    d = np.repeat([1, 2, 3], 20)
    expected = np.mean([spearmanr(s[d == k], y[d == k])[0] for k in (1, 2, 3)])
    assert mean_rank_ic(s, y, d, min_count=2) == pytest.approx(expected, abs=1e-12)
    s2 = s.copy()
    s2[:5] = np.nan
    expected2 = np.mean([spearmanr(s[5:20], y[5:20])[0]] + [spearmanr(s[d == k], y[d == k])[0] for k in (2, 3)])
    assert mean_rank_ic(s2, y, d, min_count=2) == pytest.approx(expected2, abs=1e-12)
    only_full = np.mean([spearmanr(s[d == k], y[d == k])[0] for k in (2, 3)])
    assert mean_rank_ic(s2, y, d) == pytest.approx(only_full, abs=1e-12)  # default: 20 rows a date, the first has 15
