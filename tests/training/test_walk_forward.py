"""Walk-forward splits: exact dates of every fold, purge/embargo, scikit-learn compatibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_validate

from training.walk_forward import WalkForward

MONTHS = pd.date_range("2020-01-31", periods=10, freq="ME")


def _spans(folds) -> list[tuple[str, str, str]]:
    return [(f.describe()["fit"], f.describe()["valid"], f.describe()["test"]) for f in folds]


def test_expanding_folds_have_these_exact_dates() -> None:
    folds = WalkForward(min_train=5, valid=2, purge=1, refit_every=1).folds(MONTHS)
    assert _spans(folds) == [
        ("2020-01-31..2020-02-29", "2020-04-30..2020-05-31", "2020-07-31..2020-07-31"),
        ("2020-01-31..2020-03-31", "2020-05-31..2020-06-30", "2020-08-31..2020-08-31"),
        ("2020-01-31..2020-04-30", "2020-06-30..2020-07-31", "2020-09-30..2020-09-30"),
        ("2020-01-31..2020-05-31", "2020-07-31..2020-08-31", "2020-10-31..2020-10-31"),
    ]


def test_refit_every_tiles_test_blocks_and_embargo_widens_the_gap() -> None:
    folds = WalkForward(min_train=4, valid=1, purge=1, embargo=1, refit_every=2).folds(MONTHS)
    assert [list(f.test.strftime("%m")) for f in folds] == [["07", "08"], ["09", "10"]]
    # train ends at index 3 (April); May (purge) and June (embargo) are skipped
    assert folds[0].train[-1] == pd.Timestamp("2020-04-30")
    assert folds[1].train[-1] == pd.Timestamp("2020-06-30")
    assert list(folds[0].fit.strftime("%m")) == ["01", "02"]  # March purged before April's validation


def test_rolling_window_keeps_its_size() -> None:
    folds = WalkForward(window="rolling", train_size=4, valid=1, purge=1).folds(MONTHS)
    spans = [MONTHS.get_loc(f.valid[-1]) - MONTHS.get_loc(f.fit[0]) + 1 for f in folds]
    assert spans == [4] * len(folds)  # 2 fit dates, 1 purged, 1 validation date
    assert _spans(folds)[-1] == ("2020-05-31..2020-06-30", "2020-08-31..2020-08-31", "2020-10-31..2020-10-31")
    assert folds[0].test[0] == pd.Timestamp("2020-06-30")


def test_every_test_date_comes_after_its_training_window_and_appears_once() -> None:
    folds = WalkForward(min_train=3, valid=1, purge=1).folds(MONTHS)
    tested = np.concatenate([f.test for f in folds])
    assert len(tested) == len(set(tested))
    for f in folds:
        gap = MONTHS.get_loc(f.test[0]) - MONTHS.get_loc(f.train[-1])
        assert gap == 2  # one purged month-end in between
        assert MONTHS.get_loc(f.valid[0]) - MONTHS.get_loc(f.fit[-1]) == 2


def test_final_window_uses_every_date() -> None:
    final = WalkForward(min_train=5, valid=2, purge=1).final(MONTHS)
    assert final.describe() == {"fit": "2020-01-31..2020-07-31", "valid": "2020-09-30..2020-10-31", "test": "-"}


def test_split_works_on_rows_and_never_cuts_a_date() -> None:
    rows = pd.DataFrame({"date": np.repeat(MONTHS, 3), "x": np.arange(30.0)})
    cv = WalkForward(min_train=5, valid=2, purge=1)
    splits = list(cv.split(rows))
    assert cv.get_n_splits(rows) == len(splits) == 4
    train, test = splits[0]
    assert list(test) == [18, 19, 20]
    assert list(train) == [*range(6), *range(9, 15)]  # Jan, Feb (fit), Apr, May (valid); March purged
    same = list(cv.split(rows[["x"]], groups=rows["date"]))
    assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(splits, same, strict=True))


def test_it_is_a_scikit_learn_splitter() -> None:
    rows = pd.DataFrame({"x": np.arange(30.0)})
    y = 2 * rows["x"] + 1
    scores = cross_validate(LinearRegression(), rows, y, groups=np.repeat(MONTHS, 3),
                            cv=WalkForward(min_train=5, valid=2, purge=1), scoring="r2")
    np.testing.assert_allclose(scores["test_score"], 1.0)


@pytest.mark.parametrize("kwargs", [{"purge": 0}, {"embargo": -1}, {"min_train": 3, "valid": 2}, {"window": "x"}])
def test_impossible_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        WalkForward(**kwargs)


def test_split_needs_dates() -> None:
    with pytest.raises(ValueError, match="needs the dates"):
        list(WalkForward().split(np.zeros((3, 2))))
