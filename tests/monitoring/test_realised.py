"""Realised figures of served rankings: a planted perfect ranking scores 1, horizons are respected."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from market import load_market
from monitoring.realised import forward_excess, realised
from tests.helpers import SIM_UNIVERSE
from training.labels import HORIZON


def test_a_ranking_by_what_then_happened_has_rank_ic_one_and_unmatured_dates_wait(small_sim_dir: Path) -> None:
    market = load_market(small_sim_dir)
    cal = market.calendar
    dates = [cal[-80], cal[-60], cal[-HORIZON], cal[-5]]  # the last two have not matured
    outcome = forward_excess(market, SIM_UNIVERSE, dates)
    members = outcome[outcome["in_universe"]].rename(columns={"excess": "score"})
    figures = realised(members[["date", "symbol", "score"]], market, SIM_UNIVERSE, top_n=10)
    assert list(figures["date"]) == [cal[-80], cal[-60]]
    assert (figures["rank_ic"] > 0.999).all()
    assert list(figures["horizon_end"]) == [cal[-80 + HORIZON], cal[-60 + HORIZON]]
    first = members[members["date"] == cal[-80]].dropna().nlargest(10, "score")["score"].mean()
    assert abs(figures["top_n_excess"].iloc[0] - first) < 1e-12  # the top 10's mean excess return

    reversed_ = members.assign(score=-members["score"])
    assert (realised(reversed_[["date", "symbol", "score"]], market, SIM_UNIVERSE, 10)["rank_ic"] < -0.999).all()
    later = realised(members[["date", "symbol", "score"]], market, SIM_UNIVERSE, 10, after=cal[-80])
    assert list(later["date"]) == [cal[-60]]  # in-sample dates (up to the training window's end) are left out


def test_nothing_matured_gives_an_empty_table(small_sim_dir: Path) -> None:
    market = load_market(small_sim_dir)
    cal = market.calendar
    scores = pd.DataFrame({"date": [cal[-2]] * 3, "symbol": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]})
    figures = realised(scores, market, SIM_UNIVERSE, 10)
    assert figures.empty and list(figures.columns) == ["date", "rank_ic", "top_n_excess", "members", "horizon_end"]


def test_no_served_date_after_the_training_window_gives_an_empty_table(small_sim_dir: Path) -> None:
    # a previous champion's bundle still in the history once all its out-of-sample dates are in
    # the ledger: only in-sample dates are left; this raised (a datetime key merged on an empty
    # object column) and stopped every later monitor, and the refresh after its publish
    market = load_market(small_sim_dir)
    cal = market.calendar
    scores = pd.DataFrame({"date": [cal[-80]] * 3 + [cal[-60]] * 3, "symbol": ["a", "b", "c"] * 2,
                           "score": [1.0, 2.0, 3.0] * 2})
    for after, kept in ((cal[-60], scores), (None, scores[scores["date"] > cal[-1]])):
        figures = realised(kept, market, SIM_UNIVERSE, 10, after=after)
        assert figures.empty and list(figures.columns) == ["date", "rank_ic", "top_n_excess", "members", "horizon_end"]
    outcome = forward_excess(market, SIM_UNIVERSE, [cal[-1] + pd.Timedelta(days=30)])  # no trading day
    assert outcome.empty and outcome["date"].dtype == "datetime64[ns]"
