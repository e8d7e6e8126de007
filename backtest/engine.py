"""A liquidity-aware daily backtest of monthly top-N portfolios (the engine; reports come later).

Signals: ``predictions`` rows (date, symbol, score), one set per signal date (a month-end).
On the first trading day after a signal date the portfolio is rebalanced towards the top
``top_n`` names by score (equal- or score-weighted); orders trade from that day's **open**
(T+1: a signal known at the close of day t never trades before t+1).

Each trading day, in this order:

1. **Sells, then buys**, at the day's adjusted open (``adj_open``: total-return prices, so
   positions are held in adjusted shares and splits and dividends need no bookkeeping).
   - A stock cannot be bought when it has no bar or zero volume (suspended) or opens at its
     limit-up price; it cannot be sold when suspended or opening at its limit-down price.
   - Each stock's trade that day is capped at ``participation`` x its median traded amount
     over the previous 20 market days (:func:`features.liquidity.median_amount_before_open`:
     known before the open; a missing day counts as 0 traded);
     what is left carries over to the next days until the next rebalance replaces the orders.
   - Buys are scaled down together when cash (after the day's sells and all costs) is short.
2. **Costs** per trade: commission (both sides), stamp duty (sells), and market impact of
   ``impact_bps`` x sqrt(participation of the trade in that 20-day median amount) (the
   square-root law).
3. **Mark to market** at the close (``adj_close``; a suspended or missing stock keeps its
   last close). A held stock whose listing ends is turned into cash at
   ``delist_recovery`` x its last close on its last trading day.

No price after day d is used for anything done on day d.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.liquidity import median_amount_before_open
from market.load import LIMIT_TOLERANCE, Market

PREDICTION_COLUMNS = ("date", "symbol", "score")


class PredictionsError(ValueError):
    """Predictions a backtest cannot use; the message names the column or row at fault."""


def check_predictions(predictions: pd.DataFrame, market: Market, source: str = "predictions") -> pd.DataFrame:
    """``predictions`` reduced to date, symbol, score, checked against ``market``: every column
    present, dates trading days of the market, symbols listed in it, one row per (date,
    symbol), scores finite or missing (NaN rows are skipped by the backtest)."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions]
    if missing:
        raise PredictionsError(f"{source}: missing column(s) {missing}; has {list(predictions.columns)}")
    out = predictions[list(PREDICTION_COLUMNS)].reset_index(drop=True)
    if out.empty:
        raise PredictionsError(f"{source}: no rows")
    try:
        out["date"] = pd.to_datetime(out["date"])
        out["score"] = pd.to_numeric(out["score"]).astype("float64")
    except (ValueError, TypeError) as exc:
        raise PredictionsError(f"{source}: date or score not readable ({exc})") from None

    def fail(mask: np.ndarray | pd.Series, what: str) -> None:
        bad = np.flatnonzero(np.asarray(mask))
        if len(bad):
            row = out.iloc[bad[0]]
            raise PredictionsError(f"{source}: row {bad[0]} (date {row['date']}, symbol {row['symbol']!r}) {what}"
                                   f"{f' (and {len(bad) - 1} more rows)' if len(bad) > 1 else ''}")

    fail(out["date"].isna() | out["symbol"].isna(), "has no date or symbol")
    out["symbol"] = out["symbol"].astype(str)
    fail(np.isinf(out["score"].to_numpy()), "has an infinite score")
    fail(~out["date"].isin(market.calendar), f"is not a trading day of the market "
         f"({market.calendar[0]:%Y-%m-%d}..{market.calendar[-1]:%Y-%m-%d})")
    fail(~out["symbol"].isin(set(market.securities["symbol"].astype(str))), "names a stock the market does not list")
    fail(out.duplicated(["date", "symbol"]), "repeats a (date, symbol) pair")
    tradable = out["score"].notna() & (out["date"] < market.calendar[-1])
    if not tradable.any():
        raise PredictionsError(f"{source}: no scored row dated before the market's last day "
                               f"{market.calendar[-1]:%Y-%m-%d}, so nothing could trade")
    return out



class BacktestConfig(BaseModel):
    """The portfolio, its trading limits and costs (``[backtest]`` in a config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capital: float = Field(1e8, gt=0, description="starting capital, in the market's currency (config `currency`)")
    top_n: int = Field(100, ge=1, description="names held after each monthly rebalance")
    weighting: Literal["equal", "score"] = Field("equal", description="equal | score (weights proportional to "
                                                                       "score above the N+1th)")
    participation: float = Field(0.1, gt=0, le=1, description="daily trade cap per stock, share of its 20-day "
                                                                "median traded amount")
    commission: float = Field(0.0003, ge=0, description="both sides, share of traded value")
    stamp_duty: float = Field(0.0005, ge=0, description="sells only")
    impact_bps: float = Field(100.0, ge=0, description="market impact: impact_bps x sqrt(trade / 20-day "
                                                        "median amount)")
    delist_recovery: float = Field(1.0, ge=0, le=1, description="share of the last close recovered when a held "
                                                                 "stock delists")
    capacity: tuple[float, ...] = Field((1e7, 1e8, 1e9, 1e10), min_length=1,
                                        description="capitals of the capacity curve (the report's; the engine "
                                                    "trades capital alone)")

    @field_validator("capacity")
    @classmethod
    def _capitals(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        """Positive, then sorted and without repeats (the curve runs from the smallest)."""
        if any(not c > 0 for c in value):
            raise ValueError(f"capacity capitals must be > 0, got {list(value)}")
        return tuple(sorted(set(value)))

    def with_overrides(self, **overrides: object) -> BacktestConfig:
        """A validated copy with every non-None override applied."""
        return BacktestConfig.model_validate(self.model_dump() | {k: v for k, v in overrides.items()
                                                                  if v is not None})

    def run_settings(self) -> dict[str, object]:
        """The settings of one run (everything but the capacity curve's capitals)."""
        return self.model_dump(exclude={"capacity"})


@dataclass(frozen=True)
class BacktestResult:
    """The daily record of one backtest: NAV and costs by day, every trade, every rebalance."""

    daily: pd.DataFrame   # date: nav, cash, positions, bought, sold, commission, stamp_duty, impact
    trades: pd.DataFrame  # date, symbol, side, shares, price, value, commission, stamp_duty, impact
    rebalances: pd.DataFrame  # signal date, trade start, ordered value, filled value, fill ratio


def day_grids(market: Market, symbols: list[str], columns: dict[str, float]) -> dict[str, np.ndarray]:
    """Day x symbol arrays of ``columns`` (fill value where a stock has no bar), built by
    indexing rather than pivoting."""
    bars = market.bars
    code = pd.Index(symbols).get_indexer(bars["symbol"].astype(str))
    keep = code >= 0
    rows = market.calendar.get_indexer(bars["date"].to_numpy()[keep])
    cols = code[keep]
    out = {}
    for column, fill in columns.items():
        grid = np.full((len(market.calendar), len(symbols)), fill, dtype=np.float64)
        grid[rows, cols] = bars[column].to_numpy(np.float64)[keep]
        out[column] = grid
    return out


def _targets(predictions: pd.DataFrame, cfg: BacktestConfig) -> dict[pd.Timestamp, pd.Series]:
    out = {}
    for day, rows in predictions.groupby("date", sort=True):
        top = rows.dropna(subset=["score"]).sort_values(["score", "symbol"], ascending=[False, True]).head(cfg.top_n)
        if top.empty:
            continue
        if cfg.weighting == "equal":
            w = np.full(len(top), 1.0 / len(top))
        else:
            s = top["score"].to_numpy() - top["score"].min()
            w = s / s.sum() if s.sum() > 0 else np.full(len(top), 1.0 / len(top))
        out[pd.Timestamp(day)] = pd.Series(w, index=top["symbol"].astype(str).to_numpy())
    return out


def run_backtest(market: Market, predictions: pd.DataFrame, cfg: BacktestConfig = BacktestConfig()) -> BacktestResult:
    """Simulate the strategy day by day over the market's calendar from the first signal on."""
    predictions = predictions.assign(date=pd.to_datetime(predictions["date"]),
                                     symbol=predictions["symbol"].astype(str))
    targets = _targets(predictions, cfg)
    if not targets:
        raise ValueError("predictions hold no scored rows")
    symbols = sorted({s for w in targets.values() for s in w.index})
    index = {s: i for i, s in enumerate(symbols)}
    cal = market.calendar
    grids = day_grids(market, symbols, {"adj_open": np.nan, "adj_close": np.nan, "volume": 0.0, "open": np.nan,
                                      "limit_up": np.nan, "limit_down": np.nan, "amount": np.nan})
    opens, closes, volume, raw_open = grids["adj_open"], grids["adj_close"], grids["volume"], grids["open"]
    up, down = grids["limit_up"], grids["limit_down"]
    median_amount = median_amount_before_open(grids["amount"])
    last_close = pd.DataFrame(closes).ffill().to_numpy()
    sec = market.securities.assign(symbol=market.securities["symbol"].astype(str)).set_index("symbol")
    delist = sec["delist_date"].reindex(symbols).to_numpy(dtype="datetime64[ns]")

    tradable = (volume > 0) & ~np.isnan(opens)
    opens_up = np.nan_to_num(raw_open) >= np.nan_to_num(up, nan=np.inf) * (1 - LIMIT_TOLERANCE)
    opens_down = np.nan_to_num(raw_open) <= np.nan_to_num(down, nan=-np.inf) * (1 + LIMIT_TOLERANCE)
    can_buy, can_sell = tradable & ~opens_up, tradable & ~opens_down

    n = len(symbols)
    held, pending = np.zeros(n), np.zeros(n)
    cash = cfg.capital
    first_signal = min(targets)
    start = int(np.searchsorted(cal, first_signal, side="right"))
    signal_days = sorted(targets)
    starts = {int(np.searchsorted(cal, d, side="right")): d for d in signal_days}
    daily, trades, rebalances = [], [], []
    ordered = filled = 0.0
    current = None
    for t in range(start, len(cal)):
        day = cal[t]
        price_open = np.where(np.isnan(opens[t]), last_close[t - 1] if t else np.nan, opens[t])
        if t in starts:
            if current is not None:
                rebalances.append((current[0], current[1], ordered, filled))
            weights = targets[starts[t]]
            nav_open = cash + np.nansum(held * np.nan_to_num(price_open))
            target = np.zeros(n)
            where = np.array([index[s] for s in weights.index])
            target[where] = weights.to_numpy() * nav_open / price_open[where]
            target = np.nan_to_num(target)
            pending = target - held
            ordered, filled, current = float(np.nansum(np.abs(pending) * np.nan_to_num(price_open))), 0.0, (starts[t], day)
        cap_shares = np.nan_to_num(cfg.participation * median_amount[t] / price_open)
        bought = sold = comm = stamp = impact = 0.0

        sell = np.flatnonzero((pending < 0) & can_sell[t] & (held > 0))
        qty = np.minimum(np.minimum(-pending[sell], cap_shares[sell]), held[sell])
        for i, q in zip(sell, qty, strict=False):
            if q <= 0:
                continue
            value = q * price_open[i]
            c, s_, m = value * cfg.commission, value * cfg.stamp_duty, value * _impact(value, median_amount[t, i], cfg)
            held[i] -= q
            pending[i] += q
            cash += value - c - s_ - m
            sold, comm, stamp, impact = sold + value, comm + c, stamp + s_, impact + m
            trades.append((day, symbols[i], "sell", q, price_open[i], value, c, s_, m))
        buy = np.flatnonzero((pending > 0) & can_buy[t])
        qty = np.minimum(pending[buy], cap_shares[buy])
        values = qty * price_open[buy]
        rates = cfg.commission + np.array([_impact(v, median_amount[t, i], cfg) for v, i in zip(values, buy, strict=False)])
        need = float(np.sum(values * (1 + rates))) if len(buy) else 0.0
        if need > cash > 0:
            qty, values = qty * cash / need, values * cash / need
        elif cash <= 0:
            qty, values = qty * 0, values * 0
        for i, q, value in zip(buy, qty, values, strict=False):
            if q <= 0:
                continue
            c, m = value * cfg.commission, value * _impact(value, median_amount[t, i], cfg)
            held[i] += q
            pending[i] -= q
            cash -= value + c + m
            bought, comm, impact = bought + value, comm + c, impact + m
            trades.append((day, symbols[i], "buy", q, price_open[i], value, c, 0.0, m))
        filled += bought + sold

        gone = (held > 0) & ~np.isnat(delist) & (delist <= day.to_datetime64())
        for i in np.flatnonzero(gone):
            value = held[i] * last_close[t, i] * cfg.delist_recovery
            cash += value
            trades.append((day, symbols[i], "delist", held[i], last_close[t, i] * cfg.delist_recovery, value, 0, 0, 0))
            held[i], pending[i] = 0.0, 0.0
        nav = cash + float(np.nansum(held * np.nan_to_num(last_close[t])))
        daily.append((day, nav, cash, int((held > 0).sum()), bought, sold, comm, stamp, impact))
    if current is not None:
        rebalances.append((current[0], current[1], ordered, filled))
    daily_frame = pd.DataFrame(daily, columns=["date", "nav", "cash", "positions", "bought", "sold", "commission",
                                               "stamp_duty", "impact"]).set_index("date")
    trade_frame = pd.DataFrame(trades, columns=["date", "symbol", "side", "shares", "price", "value", "commission",
                                                "stamp_duty", "impact"])
    reb = pd.DataFrame(rebalances, columns=["signal_date", "trade_start", "ordered", "filled"])
    reb["fill_ratio"] = (reb["filled"] / reb["ordered"]).where(reb["ordered"] > 0)
    return BacktestResult(daily_frame, trade_frame, reb)


def _impact(value: float, median_amount: float, cfg: BacktestConfig) -> float:
    """Impact as a fraction of the traded value: impact_bps x sqrt(value / 20-day median amount)."""
    if not value > 0 or not median_amount > 0:
        return 0.0
    return cfg.impact_bps * 1e-4 * float(np.sqrt(value / median_amount))
