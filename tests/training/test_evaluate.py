"""Evaluation: exact values on hand-made cross-sections with planted signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.evaluate import (
    SUMMARY_KEYS,
    evaluate,
    evaluate_slices,
    hit_rate,
    ic,
    ic_stats,
    liquidity_quintile,
    long_short,
    quantile_returns,
    rank_ic,
    top_n_returns,
    top_n_turnover,
    truth_ratio,
)

N = 30


def _frame(dates: int = 3, n: int = N, start: str = "2021-01-31", seed: int = 0) -> pd.DataFrame:
    """``dates`` month-ends x ``n`` symbols; score = 10 x label + 3 (a perfect planted signal)."""
    rng = np.random.default_rng(seed)
    frames = []
    for date in pd.date_range(start, periods=dates, freq="ME"):
        label = rng.permutation(n) / (n - 1)
        frames.append(pd.DataFrame({"date": date, "symbol": [f"S{i:02d}" for i in range(n)], "label": label,
                                    "score": label * 10 + 3, "excess_return": rng.normal(0, 0.05, n)}))
    return pd.concat(frames, ignore_index=True)


def test_rank_ic_and_ic_are_one_for_the_label_and_minus_one_reversed() -> None:
    frame = _frame()
    np.testing.assert_allclose(rank_ic(frame), 1.0)
    np.testing.assert_allclose(rank_ic(frame.assign(score=-frame["score"])), -1.0)
    np.testing.assert_allclose(ic(frame), 1.0)
    cubed = frame.assign(score=frame["label"] ** 3)  # monotone, not linear
    np.testing.assert_allclose(rank_ic(cubed), 1.0)
    assert (ic(cubed) < 0.95).all()
    assert list(rank_ic(frame).index) == list(frame["date"].unique())


def test_ic_matches_numpy_pearson_and_skips_constant_dates() -> None:
    frame = _frame().assign(score=np.random.default_rng(1).normal(size=3 * N))
    frame.loc[frame["date"] == frame["date"].max(), "score"] = 1.0
    expected = [np.corrcoef(g["score"], g["label"])[0, 1] for _, g in list(frame.groupby("date"))[:2]]
    np.testing.assert_allclose(ic(frame).to_numpy(), expected)


def test_nan_score_rows_are_ignored_and_nan_labels_do_not_count() -> None:
    frame = _frame()
    dates = frame["date"].unique()
    first, second = frame["date"] == dates[0], frame["date"] == dates[1]
    frame.loc[first & (frame.index % N < 11), "score"] = np.nan  # 19 scored rows left
    frame.loc[second & (frame.index % N < 11), "label"] = np.nan  # 19 labelled rows left
    assert list(rank_ic(frame).index) == [dates[2]] and list(ic(frame).index) == [dates[2]]
    assert rank_ic(frame, min_count=19).tolist() == pytest.approx([1.0, 1.0, 1.0])
    # an unscored row with a huge return changes nothing
    outlier = frame.iloc[:1].assign(score=np.nan, excess_return=100.0, symbol="ZZZ")
    with_outlier = pd.concat([frame, outlier], ignore_index=True)
    pd.testing.assert_frame_equal(quantile_returns(with_outlier), quantile_returns(frame))
    pd.testing.assert_series_equal(top_n_returns(with_outlier, n=5), top_n_returns(frame, n=5))


def test_ic_stats_by_hand() -> None:
    stats = ic_stats(pd.Series([0.1, 0.3, -0.1, 0.2, np.nan]))
    std = np.sqrt((0.025**2 + 0.175**2 + 0.225**2 + 0.075**2) / 3)
    assert stats == pytest.approx({"mean": 0.125, "std": std, "icir": 0.125 / std, "t_stat": 0.125 / std * 2,
                                   "positive": 0.75, "months": 4.0})
    one = ic_stats(pd.Series([0.2]))
    assert one["mean"] == 0.2 and one["months"] == 1 and np.isnan([one["std"], one["icir"], one["t_stat"]]).all()
    assert np.isnan(ic_stats(pd.Series([0.1, 0.1]))["icir"])
    empty = ic_stats(pd.Series(dtype=float))
    assert empty["months"] == 0 and np.isnan(empty["mean"]) and np.isnan(empty["positive"])


def _one_date(score: np.ndarray, ret: np.ndarray, date: str = "2021-01-31") -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Timestamp(date), "symbol": [f"S{i:02d}" for i in range(len(score))],
                         "score": score, "excess_return": ret, "label": np.linspace(0, 1, len(score))})


def test_quantile_returns_and_long_short_by_hand() -> None:
    order = np.random.default_rng(2).permutation(N)
    frame = _one_date(order.astype(float), order * 0.01)
    frame.loc[frame["score"] == 29, "excess_return"] = np.nan  # still bucketed, not averaged
    small = _one_date(np.arange(9.0), np.zeros(9), "2021-02-28")  # fewer stocks than quantiles: skipped
    table = quantile_returns(pd.concat([frame, small], ignore_index=True))
    expected = [(3 * k + 1) * 0.01 for k in range(9)] + [0.275]  # Q10 = mean of ranks 27, 28 (29 has no return)
    assert list(table.columns) == list(range(1, 11)) and list(table.index) == [pd.Timestamp("2021-01-31")]
    np.testing.assert_allclose(table.iloc[0].to_numpy(), expected)
    np.testing.assert_allclose(long_short(table), [0.275 - 0.01])


def test_quantile_ties_are_broken_by_row_order() -> None:
    frame = _one_date(np.zeros(10), np.arange(10.0))
    np.testing.assert_allclose(quantile_returns(frame, quantiles=5).iloc[0], [0.5, 2.5, 4.5, 6.5, 8.5])


def test_top_n_ties_resolve_by_symbol() -> None:
    frame = pd.DataFrame({"date": pd.Timestamp("2021-01-31"), "symbol": ["E", "D", "C", "B", "A"],
                          "score": [3.0, 2.0, 2.0, 2.0, 1.0], "excess_return": [0.1, 0.2, 0.3, 0.4, 0.5]})
    assert top_n_returns(frame, n=2).tolist() == pytest.approx([(0.1 + 0.4) / 2])  # E, then B of B/C/D
    assert top_n_returns(frame, n=6).empty  # fewer than n stocks
    with_nan = frame.assign(excess_return=[0.1, 0.2, 0.3, np.nan, 0.5])
    assert top_n_returns(with_nan, n=2).tolist() == [0.1]  # B stays selected, its NaN is not averaged


def test_top_n_turnover_counts_replaced_names() -> None:
    frame = _frame(dates=3)
    dates = frame["date"].unique()
    rank = frame["symbol"].str[1:].astype(int)
    frame["score"] = np.where(frame["date"] == dates[0], -rank, -(rank - 9.5).abs())  # top 10: S00-S09, then S05-S14
    turnover = top_n_turnover(frame, n=10)
    assert list(turnover.index) == list(dates[1:])
    assert turnover.tolist() == [0.5, 0.0]


def test_hit_rate_counts_positive_top_quantile_returns() -> None:
    ret = np.zeros(N)
    ret[-6:] = [0.1, 0.2, -0.1, np.nan, 0.3, -0.2]  # the top quintile: scores 24..29
    assert hit_rate(_one_date(np.arange(float(N)), ret), quantiles=5).tolist() == [0.6]


def test_evaluate_collects_the_metrics() -> None:
    frame = _frame(dates=4)
    result = evaluate(frame, top_n=5)
    assert list(result.by_date.columns) == ["rank_ic", "ic", "top_decile", "top50", "long_short", "top50_turnover",
                                            "hit_rate"]
    assert tuple(result.summary) == SUMMARY_KEYS
    pd.testing.assert_frame_equal(result.quantiles, quantile_returns(frame))
    top5 = frame.sort_values("score").groupby("date").tail(5).groupby("date")["excess_return"].mean()
    assert result.summary["top50_excess"] == pytest.approx(top5.mean())
    assert result.summary["top_decile_excess"] == pytest.approx(quantile_returns(frame)[10].mean())
    assert result.summary["rank_ic"] == pytest.approx(1.0) and result.summary["rank_ic_positive"] == 1.0
    assert result.summary["months"] == 4 and np.isnan(result.summary["icir"])  # std 0
    assert result.summary["top50_turnover"] == pytest.approx(top_n_turnover(frame, 5).mean())
    assert result.summary["hit_rate"] == pytest.approx(hit_rate(frame).mean())


def test_evaluate_slices_equals_evaluate_on_each_subset() -> None:
    frame = pd.concat([_frame(dates=3, n=60), _frame(dates=2, n=60, start="2022-01-31", seed=1)], ignore_index=True)
    frame["board"] = np.where(frame.index % 2 == 0, "main", "growth")
    frame.loc[frame.index % 60 < 3, "board"] = "tiny"  # too small on every date
    frame.loc[frame.index % 60 == 3, "board"] = None  # left out
    slices = evaluate_slices(frame, "board", top_n=5)
    assert list(slices.index) == ["growth", "main", "tiny"] and slices.index.name == "board"
    for board in ["growth", "main"]:
        expected = pd.Series(evaluate(frame[frame["board"] == board], top_n=5).summary, name=board)
        pd.testing.assert_series_equal(slices.loc[board], expected)
    tiny = slices.loc["tiny"]
    assert tiny["months"] == 0 and tiny.drop("months").isna().all()
    years = evaluate_slices(frame, "year", top_n=5)
    assert list(years.index) == [2021, 2022] and "year" not in frame
    expected = pd.Series(evaluate(frame[frame["date"].dt.year == 2022], top_n=5).summary, name=2022)
    pd.testing.assert_series_equal(years.loc[2022], expected)


def test_liquidity_quintile_per_date() -> None:
    amount = [5.0, 1.0, 1.0, 9.0, np.nan, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0, 1.0, 2.0, 3.0]
    frame = pd.DataFrame({"date": pd.to_datetime(["2021-01-31"] * 11 + ["2021-02-28"] * 3), "amount": amount})
    quintile = liquidity_quintile(frame, "amount")
    assert str(quintile.dtype) == "Int64"
    # ranks 1..10 (the two 1.0s in row order) -> pairs of ranks per quintile; too few values on the second date
    assert quintile.tolist() == [3, 1, 1, 5, pd.NA, 4, 2, 5, 2, 4, 3, pd.NA, pd.NA, pd.NA]


def test_quintiles_match_pandas_qcut_of_the_rank() -> None:
    sizes = range(5, 200)
    frame = pd.DataFrame({"date": np.repeat(pd.date_range("2000-01-31", periods=len(sizes), freq="ME"), sizes)})
    frame["amount"] = np.random.default_rng(3).normal(size=len(frame)).round(1)  # with ties
    expected = frame.groupby("date")["amount"].transform(
        lambda x: pd.qcut(x.rank(method="first"), 5, labels=False) + 1)
    assert (liquidity_quintile(frame, "amount") == expected).all()


def test_truth_ratio_over_the_same_rows_and_dates() -> None:
    frame = _frame(dates=4)
    dates = frame["date"].unique()
    frame["expected_return"] = frame["label"]
    frame.loc[frame["date"] == dates[1], "score"] *= -1  # model RankIC 1, -1, 1 on the first three dates
    frame.loc[frame["date"] == dates[3], "expected_return"] = np.nan  # no truth: the model's 1.0 there is unused
    frame = pd.concat([frame, frame.iloc[:5].assign(expected_return=np.nan, score=-1.0, label=2.0)], ignore_index=True)
    out = truth_ratio(frame)
    assert out == pytest.approx({"model_rank_ic": 1 / 3, "truth_rank_ic": 1.0, "truth_ratio": 1 / 3})


def test_empty_frames_and_outsiders_give_nan_not_errors() -> None:
    empty = _frame().iloc[:0].assign(board="main")
    result = evaluate(empty)
    assert result.by_date.empty and result.quantiles.empty and result.summary["months"] == 0
    assert all(np.isnan(value) for key, value in result.summary.items() if key != "months")
    assert evaluate_slices(empty, "board").empty and evaluate_slices(empty, "year").empty
    frame = _frame().assign(in_universe=True)
    outsiders = frame.assign(in_universe=False, score=-frame["score"], symbol=frame["symbol"] + "X")
    pd.testing.assert_frame_equal(evaluate(pd.concat([frame, outsiders])).by_date, evaluate(frame).by_date)
