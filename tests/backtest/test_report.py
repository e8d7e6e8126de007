"""The backtest report: its figures agree with the backtest, the page is self-contained, and on
the real dev market the 2015 micro-cap crash shows in the NAV and the drawdown."""

from __future__ import annotations

import re
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
                        universe=UNIVERSE, currency="USD"), market


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


def _report_with_curve(excess: list[float], currency: str = "CNY"):
    """The fields the capacity sentence and the set-up table read, on a made-up curve."""
    from types import SimpleNamespace

    from backtest.engine import BacktestConfig
    from features.crowding import CrowdingRule

    curve = pd.DataFrame({"excess_annual_return": excess}, index=[1e7, 1e8, 1e9, 1e10][:len(excess)])
    return SimpleNamespace(capacity=curve, config=BacktestConfig(), rule=CrowdingRule(), source="preds.parquet",
                           market="m", extra={"training_run": "abc"}, currency=currency)


@pytest.mark.parametrize(("excess", "says"), [
    ([0.25, 0.22, 0.21, 0.13], "stays above half of that up to 10.0 bn CNY, the largest capital run.</p>"),
    ([0.25, 0.20, 0.10, 0.05], "halves at about 562 m CNY and stays above zero up to 10.0 bn CNY, the largest "
                               "capital run (log-linear"),
    ([0.25, 0.20, 0.10, -0.05], "halves at about 562 m CNY and reaches zero at about 4.6 bn CNY (log-linear"),
])
def test_the_capacity_sentence_reads_as_a_sentence(excess: list[float], says: str) -> None:
    from backtest.report import _capacity_text

    text = _capacity_text(_report_with_curve(excess))
    assert text.startswith("<p>The same strategy at each starting capital. From +25.0% a year at 10 m CNY, the "
                           "excess return ") and says in text


def test_the_setup_states_costs_in_basis_points_and_names_in_words() -> None:
    from backtest.report import _setup

    setup = _setup(_report_with_curve([0.2, 0.1]))["value"]
    assert setup["Commission"] == "3 bp of traded value, both sides" and setup["Stamp duty"] == "5 bp of sold value"
    assert setup["Starting capital"] == "100 m CNY" and setup["Capacity curve"] == "10 m CNY, 100 m CNY"
    assert setup["Training run"] == "abc" and all(" " in k or k.istitle() for k in setup.index)


def test_report_tables_have_headers_in_words_and_scroll_inside_the_page(report) -> None:
    page = render_html(report[0])
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert "excess annualised" in headers and "share of days" in headers
    assert not [h for h in headers if "_" in h], [h for h in headers if "_" in h]
    assert page.count('<div class="wide"><table') == page.count("<table") and ".wide{overflow-x:auto" in page


def test_every_money_amount_names_the_currency(report) -> None:
    """Built with currency USD: the title, the capacity sentence, table and axis and the set-up
    say USD beside each amount; nothing says "market currency"."""
    from backtest.report import _setup, figures

    r = report[0]
    page = render_html(r, figs={})
    assert "top 20, equal-weighted, 10 m USD starting capital</h1>" in page
    assert "From " in page and " a year at 1 m USD, the excess return " in page and "1.0 bn USD" in page
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert "starting capital (USD)" in headers
    assert re.search(r"<td>1 m</td>.*<td>1.0 bn</td>", page, re.S)  # the capacity table's capitals in words
    setup = _setup(r)["value"]
    assert setup["Starting capital"] == "10 m USD" and setup["Capacity curve"] == "1 m USD, 1.0 bn USD"
    assert "market currency" not in page and "CNY" not in page
    ax, _ = figures(r)["capacity"].axes
    assert ax.get_xlabel() == "starting capital (USD, log scale)"
