"""Walk-forward training end to end on small simulated markets."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.registry import registered
from market.load import Market, load_market
from training.config import ConfigError, TrainConfig
from training.labels import HORIZON
from training.train import check_purge, prepare, run_walk_forward, train
from training.walk_forward import Fold


def test_predictions_cover_every_universe_stock_of_every_test_month(trained) -> None:
    panel, pred = trained.data.panel, trained.predictions
    test_dates = pd.DatetimeIndex(np.concatenate([f.test for f in trained.folds]))
    members = panel[panel["in_universe"] & panel["date"].isin(test_dates)]
    assert len(pred) == len(members) == pred[["date", "symbol"]].drop_duplicates().shape[0]
    assert set(zip(pred["date"], pred["symbol"])) == set(zip(members["date"], members["symbol"]))
    assert pred["score"].notna().all()
    assert {"baseline_size", "baseline_reversal", "baseline_abnormal_turnover", "baseline_ridge"} <= set(pred)
    # the first test month follows min_train + purge month-ends
    months = pd.DatetimeIndex(np.unique(panel.loc[panel["in_universe"], "date"]))
    assert test_dates[0] == months[18 + 1]


def test_planted_signal_is_found_out_of_sample(trained) -> None:
    summary = trained.evaluations["score"].summary
    assert summary["rank_ic"] > 0.03 and summary["t_stat"] > 2  # a small market: ~40 test months of 120 stocks
    assert 0 < trained.truth["truth_ratio"] <= 1.5
    assert set(trained.slices) == {"year", "liquidity", "board", "industry"}
    models = trained.by_year.index.get_level_values("model")
    assert set(models) == {"model", "size", "reversal", "abnormal_turnover", "ridge"}
    years = trained.by_year.loc["model"]
    assert years["months"].sum() == summary["months"]


def test_final_model_uses_every_labelled_month(trained) -> None:
    panel = trained.data.panel
    labelled = panel.loc[panel["in_universe"] & panel["label_rerating"].notna(), "date"]
    assert trained.final_fold.valid[-1] == labelled.max()
    assert trained.final.booster_.num_feature() == len(trained.data.features) == len(registered())


def test_a_line_per_fold_then_one_for_the_final_model(trained, training_notes: list[str]) -> None:
    n = len(trained.folds)
    assert len(training_notes) == n + 1
    for k, (fold, line) in enumerate(zip(trained.folds, training_notes, strict=False)):
        span = f"fit {fold.fit[0]:%Y-%m}..{fold.fit[-1]:%Y-%m}, test {fold.test[0]:%Y-%m}"  # refit_every = 1
        rounds = trained.fold_table.loc[k, "best_iteration"]
        assert re.fullmatch(rf"walk-forward: fold {k + 1}/{n} done in \d+\.\d s \({span}; {rounds} rounds\)", line), line
    final = trained.final_fold
    assert re.fullmatch(rf"final model: fitted in \d+\.\d s \(fit {final.fit[0]:%Y-%m}..{final.fit[-1]:%Y-%m}, "
                        rf"valid {final.valid[0]:%Y-%m}..{final.valid[-1]:%Y-%m}; {trained.final.best_iteration_} "
                        rf"rounds\)", training_notes[-1]), training_notes[-1]


def test_a_fold_scores_the_same_without_any_data_after_its_test_date(trained, signal_market: Market,
                                                                     small_config: TrainConfig) -> None:
    """No look-ahead anywhere: truncate the market at a test date and re-run; that date's
    scores must be identical (features, labels, universe, fits all see only the past)."""
    day = trained.folds[-3].test[0]
    cut = prepare(signal_market.until(day), small_config)
    _, pred, _ = run_walk_forward(cut, small_config)
    got = pred[pred["date"] == day].set_index("symbol")
    want = trained.predictions[trained.predictions["date"] == day].set_index("symbol")
    assert len(got) == len(want) > 0
    pd.testing.assert_series_equal(got["score"], want.loc[got.index, "score"])
    pd.testing.assert_series_equal(got["baseline_ridge"], want.loc[got.index, "baseline_ridge"])


def test_same_inputs_give_the_same_ranking(signal_market: Market, small_config: TrainConfig) -> None:
    quick = small_config.model_copy(update={"walk_forward": small_config.walk_forward.model_copy(
        update={"refit_every": 12})})
    a = run_walk_forward(prepare(signal_market, quick), quick)[1]
    b = run_walk_forward(prepare(signal_market, quick), quick)[1]
    pd.testing.assert_frame_equal(a, b)


def test_signal_zero_market_gives_no_skill(tmp_path_factory: pytest.TempPathFactory,
                                           small_config: TrainConfig) -> None:
    """Leakage guard: with every planted effect off, out-of-sample RankIC must be noise."""
    from tests.helpers import simulate as _simulate

    market = load_market(_simulate(tmp_path_factory.mktemp("null") / "market", 0.0))
    result = train(market, small_config)
    by_date = result.evaluations["score"].by_date["rank_ic"].dropna()
    se = by_date.std(ddof=1) / np.sqrt(len(by_date))
    assert abs(by_date.mean()) < 3 * se
    assert abs(by_date.mean()) < 0.05


def test_purge_shorter_than_the_label_horizon_is_refused() -> None:
    cal = pd.bdate_range("2021-01-01", periods=120)
    ok = Fold(fit=cal[[0, 10]], valid=cal[[10 + HORIZON]], test=cal[[10 + 2 * HORIZON]])
    check_purge([ok], cal)
    short = Fold(fit=cal[[0, 10]], valid=cal[[10 + HORIZON]], test=cal[[10 + 2 * HORIZON - 1]])
    with pytest.raises(ConfigError, match="raise walk_forward.purge"):
        check_purge([short], cal)


def test_unrealised_labels_before_a_trailing_partial_month_are_not_a_purge_error() -> None:
    cal = pd.bdate_range("2021-01-01", periods=120)
    fold = Fold(fit=cal[[0, 10]], valid=cal[[10 + HORIZON]], test=cal[[10 + 2 * HORIZON - 5]])
    with pytest.raises(ConfigError):
        check_purge([fold], cal)
    # the validation date's label is not realised by the test date, so it is missing: day 10 is what counts
    check_purge([fold], cal, labelled=pd.DatetimeIndex(cal[[0, 10]]))
    with pytest.raises(ConfigError, match="fold 0: the last train date"):
        check_purge([fold], cal, labelled=pd.DatetimeIndex(cal[[0, 10, 10 + HORIZON]]))


def test_too_short_a_market_is_a_config_error(signal_market: Market, small_config: TrainConfig) -> None:
    with pytest.raises(ConfigError, match="min_train"):
        train(signal_market.until("2015-10-30"), small_config)


def test_ranker_and_attention_label_run(signal_market: Market, small_config: TrainConfig, tmp_path: Path) -> None:
    cfg = small_config.model_copy(update={"model": "ranker", "label": "attention_shift",
                                          "walk_forward": small_config.walk_forward.model_copy(update={"refit_every": 12})})
    result = train(signal_market, cfg)
    assert result.final.booster_.params["objective"] == "lambdarank"
    assert np.isfinite(result.evaluations["score"].summary["rank_ic"])
