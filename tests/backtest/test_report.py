"""The backtest report: its figures agree with the backtest, the page is self-contained, and on
the real dev market the 2015 micro-cap crash shows in the NAV and the drawdown."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.engine import BacktestConfig
from backtest.performance import drawdown
from backtest.report import build_report, render_html
from features import REGISTRY, UniverseConfig, build_panel, registered
from features.crowding import crowding
from market.load import Market, load_market

UNIVERSE = UniverseConfig(n=100)


def _reversal(market: Market, universe: UniverseConfig = UNIVERSE, start: str | None = None) -> pd.DataFrame:
    """Month-end scores of the universe members: minus their 20-day return."""
    registered()
    panel = build_panel(market, universe=universe, features=[REGISTRY["ret_20"]], start=start)
    panel = panel[panel["in_universe"]]
    return pd.DataFrame({"date": panel["date"], "symbol": panel["symbol"], "score": -panel["ret_20"]})


@pytest.fixture(scope="module")
def report(small_sim_dir: Path):
    market = load_market(small_sim_dir)
    return build_report(market, _reversal(market), BacktestConfig(top_n=20, capital=1e7), capitals=(1e6, 1e9),
                        universe=UNIVERSE), market


def test_the_report_figures_agree_with_the_backtest(report) -> None:
    r, market = report
    nav = r.result.daily["nav"]
    np.testing.assert_allclose(r.growth["strategy"], nav / 1e7)
    np.testing.assert_allclose(r.growth["benchmark"], (1 + r.benchmark).cumprod())
    # calendar years compound to the whole period
    assert np.prod(1 + r.yearly["strategy"]) == pytest.approx(r.growth["strategy"].iloc[-1])
    assert np.prod(1 + r.yearly["benchmark"]) == pytest.approx(r.growth["benchmark"].iloc[-1])
    # the worst episode is the deepest excess drawdown, and its regime is the day's
    worst = r.episodes.iloc[0]
    dd = drawdown(r.growth["relative"])
    assert worst["depth"] == pytest.approx(dd.min()) and worst["trough"] == dd.idxmin()
    assert r.episodes["depth"].is_monotonic_increasing
    crowd = crowding(market, UNIVERSE)
    assert worst["regime_at_peak"] == str(crowd["regime"].get(worst["peak"], "unknown"))
    assert r.regimes["days"].sum() == len(nav)
    assert list(r.capacity.index) == [1e6, 1e9] and r.capacity.loc[1e9, "fill_ratio"] < r.capacity.loc[1e6, "fill_ratio"]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.sources += [v for k, v in attrs if k in ("src", "href") and v]


def test_the_page_is_self_contained(report) -> None:
    r, _ = report
    text = render_html(r)
    page = _Page()
    page.feed(text)
    assert page.tags.count("img") == 4 and all(s.startswith("data:image/png;base64,") for s in page.sources)
    assert "script" not in page.tags and "link" not in page.tags
    assert f"{r.stats['excess_annual_return']:+.1%}" in text and "Worst excess drawdowns" in text


@pytest.mark.slow
def test_the_2015_crash_shows_in_the_nav_and_the_drawdown(real_market_dir: Path) -> None:
    """Top 100 of the 400 smallest A-shares by short-term reversal, 2013-2015: the June-September
    2015 crash is the strategy's deepest drawdown."""
    market = load_market(real_market_dir)
    r = build_report(market, _reversal(market, UniverseConfig(), start="2012-12-01"), BacktestConfig(), capitals=None)
    dd = drawdown(r.growth["strategy"])
    trough = dd.idxmin()
    peak = r.growth["strategy"].loc[:trough].idxmax()
    assert pd.Timestamp("2015-05-15") <= peak <= pd.Timestamp("2015-06-30")
    assert pd.Timestamp("2015-07-01") <= trough <= pd.Timestamp("2015-09-30")
    assert r.stats["max_drawdown"] == pytest.approx(dd.min()) and r.stats["max_drawdown"] < -0.35
    nav = r.result.daily["nav"]
    assert nav.loc[trough] < 0.65 * nav.loc[peak]
    assert f"{r.stats['max_drawdown']:+.1%}" in render_html(r, figs={})
