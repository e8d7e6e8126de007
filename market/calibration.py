"""Stylised facts of a market, computed the same way for simulated and real data.

Definitions (bars with volume 0 count as suspended and are dropped first):

- daily return: adj_close over the previous bar's adj_close, minus 1.
- ``vol_q1..q5``: per stock and calendar month with >= 15 returns, the standard deviation of
  daily returns; stock-months put into market-cap quintiles within the month (q1 smallest);
  the median per quintile.
- ``turnover_small_p10/p50/p90``: daily turnover (volume / shares_float) pooled over the 400
  smallest trading stocks of each day.
- ``turnover_ac1/ac20``: per stock with >= 250 bars, autocorrelation of log turnover at lags 1
  and 20 bars; the median over stocks.
- ``limit_up_share/limit_down_share``: share of returns at the daily limit (|r| >= limit - 0.5%;
  limit 5% for ST, 20% for chinext/star from 2020-08-24, 30% for bse, else 10%), leaving out each
  stock's first 5 bars (new-listing rules differ).
- ``suspension_rate``: listed stock-days (trading days from list_date to delist_date, or to the
  last day) without a trading bar, over all listed stock-days.
- ``delisting_rate_yearly``: delistings inside the data's span per listed stock-year.
- ``size_premium_rankic``: per month-end, Spearman correlation of -log market cap with the
  return to the next month-end (stocks trading on both); the mean over months.
- ``st_share``: share of trading bars flagged ST.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from market.load import Market

CHINEXT_REFORM = pd.Timestamp("2020-08-24")

LABELS: dict[str, str] = {
    "vol_q1": "daily volatility, size quintile 1 (smallest)",
    "vol_q2": "daily volatility, size quintile 2",
    "vol_q3": "daily volatility, size quintile 3",
    "vol_q4": "daily volatility, size quintile 4",
    "vol_q5": "daily volatility, size quintile 5 (largest)",
    "turnover_small_p10": "daily turnover, 400 smallest, p10",
    "turnover_small_p50": "daily turnover, 400 smallest, median",
    "turnover_small_p90": "daily turnover, 400 smallest, p90",
    "turnover_ac1": "turnover autocorrelation, lag 1",
    "turnover_ac20": "turnover autocorrelation, lag 20",
    "limit_up_share": "share of limit-up days",
    "limit_down_share": "share of limit-down days",
    "suspension_rate": "suspension rate (listed stock-days)",
    "delisting_rate_yearly": "yearly delisting rate",
    "size_premium_rankic": "size premium: RankIC(-log cap, next month)",
    "st_share": "share of ST stock-days",
}


def _limit(bars: pd.DataFrame, board: pd.Series) -> np.ndarray:
    b = bars["symbol"].map(board).astype("str").to_numpy()
    wide = np.isin(b, ["chinext", "star"]) & (bars["date"] >= CHINEXT_REFORM).to_numpy()
    limit = np.where(wide, 0.20, 0.10)
    limit = np.where(b == "bse", 0.30, limit)
    return np.where(bars["st"].to_numpy(), 0.05, limit)


def stylised_facts(market: Market) -> dict[str, float]:
    """All figures named in :data:`LABELS` for one market."""
    sec = market.securities.set_index("symbol")
    bars = market.bars.loc[~market.bars["suspended"], ["symbol", "date", "adj_close", "turnover", "market_cap", "st"]]
    bars = bars.reset_index(drop=True)
    same = (bars["symbol"].to_numpy()[1:] == bars["symbol"].to_numpy()[:-1])
    ret = np.full(len(bars), np.nan)
    ac = bars["adj_close"].to_numpy()
    ret[1:] = np.where(same, ac[1:] / ac[:-1] - 1.0, np.nan)
    bars["ret"] = ret
    bar_no = bars.groupby("symbol", observed=True).cumcount().to_numpy()
    facts: dict[str, float] = {}

    # volatility by size quintile (stock-months)
    month = bars["date"].dt.to_period("M")
    sm = bars.groupby([bars["symbol"], month], observed=True).agg(
        vol=("ret", "std"), n=("ret", "count"), cap=("market_cap", "mean"))
    sm = sm[sm["n"] >= 15].reset_index()
    sm["q"] = sm.groupby("date")["cap"].transform(lambda c: pd.qcut(c.rank(method="first"), 5, labels=False))
    for q, v in sm.groupby("q")["vol"].median().items():
        facts[f"vol_q{int(q) + 1}"] = float(v)

    # turnover of the 400 smallest
    rank = bars.groupby("date")["market_cap"].rank(method="first")
    small = bars.loc[rank <= 400, "turnover"].to_numpy()
    facts["turnover_small_p10"], facts["turnover_small_p50"], facts["turnover_small_p90"] = (
        float(x) for x in np.quantile(small, [0.1, 0.5, 0.9]))

    # turnover autocorrelation
    logt = np.log(bars["turnover"].where(bars["turnover"] > 0))
    g = logt.groupby(bars["symbol"], observed=True)
    x = logt - g.transform("mean")
    counts = g.transform("count")
    for lag in (1, 20):
        lagged = x.groupby(bars["symbol"], observed=True).shift(lag)
        num = (x * lagged).groupby(bars["symbol"], observed=True).sum()
        den = (x * x).groupby(bars["symbol"], observed=True).sum()
        ok = counts.groupby(bars["symbol"], observed=True).first() >= 250
        facts[f"turnover_ac{lag}"] = float((num / den)[ok].median())

    # limit hits
    limit = _limit(bars, sec["board"] if "board" in sec else pd.Series(dtype="str"))
    valid = (bar_no >= 5) & np.isfinite(ret)
    facts["limit_up_share"] = float(np.mean(ret[valid] >= limit[valid] - 0.005))
    facts["limit_down_share"] = float(np.mean(ret[valid] <= -limit[valid] + 0.005))

    # suspensions and delistings
    cal = market.calendar
    first = np.searchsorted(cal.to_numpy(), sec["list_date"].to_numpy(), side="left")
    last_day = sec["delist_date"].fillna(cal[-1]).clip(upper=cal[-1]).to_numpy()
    last = np.searchsorted(cal.to_numpy(), last_day, side="right") - 1
    listed_days = np.clip(last - first + 1, 0, None).sum()
    facts["suspension_rate"] = float(1 - len(bars) / listed_days)
    years = (cal[-1] - cal[0]).days / 365.25
    delisted = sec["delist_date"].between(cal[0], cal[-1]).sum()
    facts["delisting_rate_yearly"] = float(delisted / (listed_days / len(cal) * years))

    # size premium
    month_ends = pd.Series(cal).groupby(cal.to_period("M")).max().to_numpy()
    at_me = bars[bars["date"].isin(month_ends)]
    close = at_me.pivot(index="date", columns="symbol", values="adj_close")
    cap = at_me.pivot(index="date", columns="symbol", values="market_cap")
    fwd = close.shift(-1) / close - 1
    ics = [(-np.log(cap.iloc[i])).corr(fwd.iloc[i], method="spearman") for i in range(len(cap) - 1)]
    ics = [ic for ic in ics if np.isfinite(ic)]
    facts["size_premium_rankic"] = float(np.mean(ics)) if ics else float("nan")
    facts["st_share"] = float(bars["st"].mean())
    return facts


def compare(sim: dict[str, float], real: dict[str, float], tolerance: float = 1.5) -> pd.DataFrame:
    """Side-by-side table: figure, simulated, real, ratio, and whether within ``tolerance``x."""
    rows = []
    for key, label in LABELS.items():
        s, r = sim.get(key, np.nan), real.get(key, np.nan)
        ratio = s / r if r not in (0, np.nan) and np.isfinite(r) and r != 0 else np.nan
        ok = bool(np.isfinite(ratio) and 1 / tolerance <= ratio <= tolerance)
        rows.append({"figure": label, "key": key, "simulated": s, "real": r, "ratio": ratio, "within": ok})
    return pd.DataFrame(rows)


def ground_truth_rankic(market: Market, truth: pd.DataFrame, column: str = "expected_return",
                        horizon: int = 21) -> pd.Series:
    """Per month-end Spearman correlation of a ground-truth column with the realised log
    return over the next ``horizon`` bars (adj_close, carried over suspensions)."""
    bars = market.bars.loc[~market.bars["suspended"], ["symbol", "date", "adj_close"]]
    wide = bars.assign(symbol=bars["symbol"].astype(str)).pivot(index="date", columns="symbol", values="adj_close").ffill()
    realised = np.log(wide.shift(-horizon) / wide).stack().rename("_realised")
    frame = truth[["date", "symbol", column]].join(realised, on=["date", "symbol"]).dropna()
    return frame.groupby("date")[[column, "_realised"]].apply(
        lambda d: d[column].corr(d["_realised"], method="spearman")).rename(f"rankic_{column}")
