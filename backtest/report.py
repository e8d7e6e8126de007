"""The backtest report: one run of the strategy, its capacity and crowding, as one HTML file.

:func:`build_report` runs the backtest (:mod:`backtest.engine`) at the configured capital,
its benchmark and statistics (:mod:`backtest.performance`), the capacity curve, and the
crowding gauges and regime (:mod:`features.crowding`) over the same days; it then lists the
worst excess drawdowns with the crowding regime at their peak and during their fall.
:func:`render_html` writes it as one self-contained page (tables, and the figures as inline
PNG); :mod:`spotlight.jobs.backtest` writes it to disk.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from backtest import plots
from backtest.engine import BacktestConfig, BacktestResult, run_backtest
from backtest.performance import (
    benchmark_returns,
    by_regime,
    capacity,
    capacity_limits,
    drawdown,
    drawdown_episodes,
    growth,
    strategy_returns,
    summary,
)
from features.crowding import REGIMES, CrowdingRule, crowding
from features.universe import UniverseConfig
from market.load import Market
from tracking.figures import DPI

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BacktestReport:
    """Everything the report shows, computed once: the run, its benchmark, statistics, crowding and capacity."""

    config: BacktestConfig
    rule: CrowdingRule
    source: str                  # where the predictions came from
    market: str                  # the market's source
    result: BacktestResult
    benchmark: pd.Series         # daily benchmark return
    stats: dict[str, float]
    growth: pd.DataFrame         # strategy, benchmark, relative (growth of 1)
    crowding: pd.DataFrame       # gauges, percentiles and regime over the backtest's days
    episodes: pd.DataFrame       # worst excess drawdowns with their crowding
    regimes: pd.DataFrame        # excess return by regime
    yearly: pd.DataFrame         # calendar-year returns
    capacity: pd.DataFrame | None = None
    extra: dict[str, str] = field(default_factory=dict)  # e.g. the training run
    currency: str = "CNY"        # ISO 4217 code of the market's prices, named beside every money amount

    @property
    def latest_crowding(self) -> pd.Series:
        """The gauges, percentiles and regime on the backtest's last day (``.name``: the date)."""
        return self.crowding.iloc[-1]


def _yearly(g: pd.DataFrame) -> pd.DataFrame:
    ends = g[["strategy", "benchmark"]].groupby(g.index.year).last()
    starts = pd.concat([pd.DataFrame({"strategy": [1.0], "benchmark": [1.0]}), ends.iloc[:-1]]).to_numpy()
    table = ends / starts - 1.0
    table["excess"] = table["strategy"] - table["benchmark"]
    table.index.name = "year"
    return table


def _episodes(g: pd.DataFrame, crowd: pd.DataFrame, top: int) -> pd.DataFrame:
    table = drawdown_episodes(g["relative"], top)
    regime = crowd["regime"].astype(object).fillna("unknown").astype(str)
    rank = {name: i for i, name in enumerate(REGIMES)}
    at_peak, worst, share_pct, spread_pct = [], [], [], []
    for row in table.itertuples():
        peak = row.peak if pd.notna(row.peak) else g.index[0]
        at_peak.append(regime.get(peak, "unknown"))
        during = regime.loc[peak:row.trough]
        worst.append(max(during, key=lambda r: rank.get(r, 0)) if len(during) else "unknown")
        share_pct.append(crowd["turnover_share_pctile"].get(peak, np.nan))
        spread_pct.append(crowd["bp_spread_pctile"].get(peak, np.nan))
    return table.assign(regime_at_peak=at_peak, worst_regime_to_trough=worst,
                        turnover_share_pctile_at_peak=share_pct, bp_spread_pctile_at_peak=spread_pct)


def build_report(market: Market, predictions: pd.DataFrame, cfg: BacktestConfig, *,
                 capitals: Sequence[float] | None = (1e7, 1e8, 1e9, 1e10),
                 universe: UniverseConfig = UniverseConfig(), rule: CrowdingRule = CrowdingRule(),
                 source: str = "predictions", top_episodes: int = 5, progress: Progress | None = None,
                 extra: dict[str, str] | None = None, currency: str = "CNY") -> BacktestReport:
    """Backtest ``predictions`` (checked: :func:`backtest.engine.check_predictions`) on ``market``
    and gather everything the report shows. ``capitals=None`` skips the capacity curve;
    ``currency`` (ISO 4217, default CNY for the A-share-like built-in market) is the unit of
    ``cfg.capital``, ``capitals`` and the market's amounts, named wherever the report shows money."""
    say = progress or (lambda step: None)
    say(f"backtest at {cfg.capital:,.0f}")
    result = run_backtest(market, predictions, cfg)
    bench = benchmark_returns(market, predictions, result.daily.index)
    stats = summary(result, bench, cfg.capital)
    g = growth(result, bench, cfg.capital)
    say("crowding gauges")
    crowd = crowding(market, universe, rule).reindex(result.daily.index)
    curve = None
    if capitals:
        say(f"capacity at {', '.join(f'{c:.0e}' for c in capitals)}")
        curve = capacity(market, predictions, cfg, capitals, known=result, benchmark=bench)
    returns = strategy_returns(result, cfg.capital)
    return BacktestReport(
        config=cfg, rule=rule, source=source, market=str(market.source), result=result, benchmark=bench,
        stats=stats, growth=g, crowding=crowd, episodes=_episodes(g, crowd, top_episodes),
        regimes=by_regime(returns, bench, crowd["regime"]), yearly=_yearly(g), capacity=curve,
        extra=dict(extra or {}), currency=currency)


def figures(report: BacktestReport) -> dict[str, Figure]:
    """The report's figures by file stem."""
    g = report.growth
    dd = pd.DataFrame({"excess (strategy / benchmark)": drawdown(g["relative"]), "strategy": drawdown(g["strategy"])})
    out = {"nav": plots.nav_plot(g[["strategy", "benchmark"]], title="NAV after costs against the universe "
                                                                   "equal-weight benchmark"),
           "drawdown": plots.drawdown_plot(dd, report.crowding["regime"]),
           "crowding": plots.crowding_plot(report.crowding, dd)}
    if report.capacity is not None:
        out["capacity"] = plots.capacity_plot(report.capacity, currency=report.currency)
    return out


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pct(v: float) -> str:
    return "" if pd.isna(v) else f"{v:+.1%}"


def _words(name: object) -> object:
    """A column or index name as words: ``excess_annualised`` -> ``excess annualised``."""
    return name.replace("_", " ") if isinstance(name, str) else name


def _table(frame: pd.DataFrame, formats: Mapping[str, Callable[[Any], str]] | None = None, index: bool = True) -> str:
    """``frame`` as an HTML table: headers in words, ``formats`` by column, NaN blank, scrolling
    sideways inside its box when wider than the page."""
    shown = frame.rename(columns=_words).rename_axis(index=[_words(n) for n in frame.index.names])
    by_label = {_words(k): v for k, v in (formats or {}).items()}
    table = shown.to_html(formatters=by_label, index=index, border=0, classes="t", na_rep="",
                          float_format=lambda v: f"{v:,.4f}", escape=True)
    return f'<div class="wide">{table}</div>'



STAT_ROWS = [
    ("annual_return", "Annual return", _pct), ("benchmark_annual_return", "Benchmark annual return", _pct),
    ("excess_annual_return", "Excess annual return", _pct), ("annual_volatility", "Annual volatility", _pct),
    ("sharpe", "Sharpe ratio", lambda v: f"{v:.2f}"), ("information_ratio", "Information ratio", lambda v: f"{v:.2f}"),
    ("tracking_error", "Tracking error", _pct), ("max_drawdown", "Max drawdown", _pct),
    ("excess_max_drawdown", "Max excess drawdown (strategy / benchmark)", _pct),
    ("turnover", "Turnover (traded / mean NAV a year)", lambda v: f"{v:.2f}x"),
    ("commission", "Commission a year (of NAV)", lambda v: f"{v:.2%}"),
    ("stamp_duty", "Stamp duty a year", lambda v: f"{v:.2%}"), ("impact", "Market impact a year", lambda v: f"{v:.2%}"),
    ("fill_ratio", "Average fill ratio (filled / ordered per rebalance)", lambda v: f"{v:.1%}"),
    ("years", "Years", lambda v: f"{v:.2f}"),
]

# the text keeps 1em from the window's edges; a cell never breaks a date or number (its table scrolls instead)
CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table.t{border-collapse:collapse;margin:.5em 0}table.t td,table.t th{padding:3px 10px;text-align:right;
border-bottom:1px solid #eee}table.t td{white-space:nowrap}table.t th{background:#f5f5f5}
table.t tbody th{text-align:left}img{max-width:100%}
.note{color:#555;font-size:.9em}.crowded{color:#b00;font-weight:bold}.wide{overflow-x:auto;max-width:100%}"""


def _money(v: float, currency: str) -> str:
    """An amount with its currency: (1.03e9, 'CNY') -> '1.0 bn CNY', 3.2e8 -> '320 m CNY'."""
    return f"{plots.amount(v)} {currency}"


def _capacity_text(report: BacktestReport) -> str:
    """One sentence on where the excess return halves and reaches zero along the curve."""
    if report.capacity is None:
        return ""
    curve, money = report.capacity, lambda v: _money(v, report.currency)
    first, low, top = curve["excess_annual_return"].iloc[0], money(curve.index[0]), money(curve.index[-1])
    if not first > 0:
        return f"<p>The strategy earns no excess return even at {low} ({first:+.1%} a year).</p>"
    limits = capacity_limits(curve)
    start = f"<p>The same strategy at each starting capital. From {first:+.1%} a year at {low}, the excess return "
    method = " (log-linear interpolation between the capitals run).</p>"
    if pd.isna(limits["half"]):
        return f"{start}stays above half of that up to {top}, the largest capital run.</p>"
    if pd.isna(limits["zero"]):
        return (f"{start}halves at about {money(limits['half'])} and stays above zero up to {top}, the largest "
                f"capital run{method}")
    return f"{start}halves at about {money(limits['half'])} and reaches zero at about {money(limits['zero'])}{method}"


def _setup(report: BacktestReport) -> pd.DataFrame:
    """The run's settings in words and units (costs in basis points, capital in ``report.currency``)."""
    cfg, money = report.config, lambda v: _money(v, report.currency)
    rows = {
        "Starting capital": money(cfg.capital),
        "Names held": f"top {cfg.top_n} by score, {cfg.weighting}-weighted, rebalanced monthly",
        "Participation cap": f"{cfg.participation:.0%} of a stock's 20-day median traded amount a day",
        "Commission": f"{cfg.commission * 1e4:g} bp of traded value, both sides",
        "Stamp duty": f"{cfg.stamp_duty * 1e4:g} bp of sold value",
        "Market impact": f"{cfg.impact_bps:g} bp x sqrt(trade / 20-day median amount)",
        "Delisting": f"{cfg.delist_recovery:.0%} of the last close recovered",
        "Capacity curve": ", ".join(money(c) for c in report.capacity.index) if report.capacity is not None else "not run",
        "Crowding rule": ", ".join(f"{k} {v}" for k, v in report.rule.as_dict().items()),
        "Predictions": report.source,
        "Market": report.market,
    }
    rows |= {key.replace("_", " ").capitalize(): value for key, value in report.extra.items()}
    return pd.DataFrame({"value": list(rows.values())}, index=list(rows))


def _na(value: float, fmt: str) -> str:
    return "n/a" if pd.isna(value) else format(value, fmt)


def render_html(report: BacktestReport, figs: dict[str, Figure] | None = None) -> str:
    """The whole report as one HTML page (no external file, script or font)."""
    figs = figs if figs is not None else figures(report)
    cfg, s, esc = report.config, report.stats, html.escape
    daily = report.result.daily
    period = f"{daily.index[0]:%Y-%m-%d} to {daily.index[-1]:%Y-%m-%d}"
    stats = pd.DataFrame({"value": [fmt(s[k]) for k, _, fmt in STAT_ROWS]}, index=[label for _, label, _ in STAT_ROWS])
    worst = drawdown_episodes(report.growth["strategy"], 1)
    if len(worst):
        w = worst.iloc[0]
        stats.loc["Max drawdown", "value"] += (f" ({w['peak']:%Y-%m-%d} to {w['trough']:%Y-%m-%d})"
                                               if pd.notna(w["peak"]) else f" (to {w['trough']:%Y-%m-%d})")
    setup = _setup(report)
    latest = report.latest_crowding
    img = lambda name, alt: (f'<img alt="{esc(alt)}" src="data:image/png;base64,{_png(figs[name])}">'  # noqa: E731
                             if name in figs else "")
    pct = {c: _pct for c in ("strategy", "benchmark", "excess", "depth", "excess_annual_return", "annual_return",
                             "excess_annualised")}
    share = {c: (lambda v: "" if pd.isna(v) else f"{v:.0%}") for c in
             ("turnover_share_pctile_at_peak", "bp_spread_pctile_at_peak", "share_of_days", "beat", "fill_ratio")}
    date = {c: (lambda v: "" if pd.isna(v) else f"{v:%Y-%m-%d}") for c in ("peak", "trough", "recovery")}
    capital = f"starting capital ({report.currency})"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Spotlight backtest {esc(period)}</title><style>{CSS}</style></head><body>",
        f"<h1>Spotlight backtest: top {cfg.top_n}, {esc(cfg.weighting)}-weighted, "
        f"{esc(_money(cfg.capital, report.currency))} starting capital</h1>",
        f'<p class="note">{esc(period)}, {len(daily)} trading days, {len(report.result.rebalances)} rebalances '
        f"(one per signal date). Orders from each signal trade from the next day's open, capped at "
        f"{cfg.participation:.0%} of each stock's 20-day median traded amount a day; limit-locked and suspended "
        "stocks wait; all figures are after commission, stamp duty and market impact. Benchmark: the equal-weight "
        "daily return of the signal universe.</p>",
        "<h2>Performance after costs</h2>", _table(stats), img("nav", "NAV against the benchmark"),
        "<h2>Returns by calendar year</h2>", _table(report.yearly, pct),
        "<h2>Drawdowns</h2>", img("drawdown", "drawdowns"),
        "<h3>Worst excess drawdowns (strategy / benchmark) and the crowding around them</h3>",
        _table(report.episodes, pct | share | date, index=False),
        "<h2>Capacity</h2>", _capacity_text(report),
        (_table(report.capacity.rename_axis(capital).reset_index(),
                pct | share | {capital: plots.amount, "cost_drag": lambda v: f"{v:.2%}"}, index=False)
         + img("capacity", "capacity curve") if report.capacity is not None else "<p>Not run (--no-capacity).</p>"),
        "<h2>Crowding</h2>",
        f'<p>Latest regime ({latest.name:%Y-%m-%d}): <span class="{esc(str(latest["regime"]))}">'
        f'{esc(str(latest["regime"]))}</span>; micro-cap turnover share {_na(latest["turnover_share"], ".2%")} '
        f'(percentile {_na(latest["turnover_share_pctile"], ".0%")} of the trailing {report.rule.window} days), '
        f'valuation spread {_na(latest["bp_spread"], ".3f")} (percentile {_na(latest["bp_spread_pctile"], ".0%")}).'
        "</p>",
        img("crowding", "crowding gauges against drawdowns"),
        "<h3>Excess return by the crowding regime known at the previous close</h3>", _table(report.regimes, pct | share),
        '<p class="note">crowded: turnover-share percentile &ge; high and valuation-spread percentile &le; rich '
        "(or spread unknown); elevated: turnover-share percentile &ge; elevated; percentiles within each gauge's "
        "trailing window, data up to that day only.</p>",
        "<h2>Set-up</h2>", _table(setup),
        "</body></html>",
    ]
    return "\n".join(parts)
