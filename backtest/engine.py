"""A liquidity-aware daily backtest of monthly top-N portfolios (the engine; reports come later).

Signals: ``predictions`` rows (date, symbol, score), one set per signal date (a month-end).
A manager's day, simulated: orders are made **the evening before** with
:func:`orders.session.plan` (the function ``POST /rebalance`` answers with), and trade at the
next session's **open** (T+1: a signal known at the close of day t never trades before t+1).

Each evening (of the signal date, then of every day until the next signal):

1. On a signal date the target becomes the top ``top_n`` names by score (equal- or
   score-weighted) at that evening's NAV and closes, in whole board lots (``board_lot`` real
   shares; positions are held in total-return-adjusted shares, so splits and dividends need
   no bookkeeping and a lot is ``board_lot / adj_factor`` of them).
2. The next session's orders towards the target, from what that evening knows: the last
   close, no buy for a stock suspended or limit-up-locked that day, no sell for one
   suspended or limit-down-locked, each stock's trade capped at ``participation`` x its
   median traded amount over the last 20 market days
   (:func:`features.liquidity.median_amount_through_close`; a missing day counts as 0), and
   buys scaled to the cash. What the cap leaves carries to the next evenings' orders.

Each trading day:

1. **Sells, then buys** of the evening's orders at the day's adjusted open: a stock that
   has no bar or zero volume (suspended), or opens at its limit-up price (for a buy) or
   limit-down price (for a sell), does not trade that day. Buys are scaled down together
   (whole lots) when the open prices ask more cash than there is.
2. **Costs** per trade, :class:`orders.costs.CostModel`: commission (both sides), stamp duty
   (sells) and ``impact_bps`` x sqrt(trade / the 20-day median amount) (the square-root law).
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

from features.liquidity import median_amount_through_close
from market.load import LIMIT_TOLERANCE, Market
from orders import CostModel, TradingRules, plan, session, target_shares, top_weights
from orders.session import afford

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
    board_lot: int = Field(100, ge=0, description="shares per board lot: orders trade whole lots (100 for "
                                                  "A-shares; 0 = any fraction)")
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

    def cost_model(self) -> CostModel:
        """The costs of a trade (shared with ``/rebalance``)."""
        return CostModel(commission=self.commission, stamp_duty=self.stamp_duty, impact_bps=self.impact_bps)

    def trading_rules(self) -> TradingRules:
        """Lot, participation and costs, as a bundle records them for ``/rebalance``."""
        return TradingRules(board_lot=self.board_lot, participation=self.participation, costs=self.cost_model())

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
        weights = top_weights(rows["symbol"].to_numpy(), rows["score"].to_numpy(), cfg.top_n, cfg.weighting)
        if len(weights):
            out[pd.Timestamp(day)] = weights
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
                                        "limit_up": np.nan, "limit_down": np.nan, "amount": np.nan,
                                        "limit_up_locked": 0.0, "limit_down_locked": 0.0, "adj_factor": np.nan})
    opens, volume, raw_open = grids["adj_open"], grids["volume"], grids["open"]
    up, down = np.nan_to_num(grids["limit_up"], nan=np.inf), np.nan_to_num(grids["limit_down"], nan=-np.inf)
    median_amount = median_amount_through_close(grids["amount"])
    last_close = pd.DataFrame(grids["adj_close"]).ffill().to_numpy()
    lot = cfg.board_lot / pd.DataFrame(grids["adj_factor"]).ffill().fillna(1.0).to_numpy()
    sec = market.securities.assign(symbol=market.securities["symbol"].astype(str)).set_index("symbol")
    delist = sec["delist_date"].reindex(symbols).to_numpy(dtype="datetime64[ns]")

    traded = (volume > 0) & ~np.isnan(opens)
    # the evening's view of the day: suspended, or the whole day at a limit (see market.load)
    evening_up, evening_down = grids["limit_up_locked"] > 0, grids["limit_down_locked"] > 0
    # the open's: no trade, or an open at the limit against the order
    open_buy = traded & ~(np.nan_to_num(raw_open) >= up * (1 - LIMIT_TOLERANCE))
    open_sell = traded & ~(np.nan_to_num(raw_open) <= down * (1 + LIMIT_TOLERANCE))
    costs = cfg.cost_model()

    n = len(symbols)
    held, target = np.zeros(n), np.zeros(n)
    cash = cfg.capital
    starts = {int(cal.searchsorted(d)): d for d in sorted(targets)}
    first = min(starts)
    daily, trades, rebalances = [], [], []
    ordered = filled = 0.0
    current = None
    orders = None
    for t in range(first, len(cal)):
        day = cal[t]
        bought = sold = comm = stamp = impact = 0.0
        if orders is not None:  # the evening's orders, at this day's open
            price = opens[t]
            sell = np.flatnonzero((orders.shares < 0) & open_sell[t])
            values = -orders.shares[sell] * price[sell]
            c, d, m = costs.costs("sell", values, median_amount[t - 1, sell])
            for k, i in enumerate(sell):
                held[i] += orders.shares[i]
                trades.append((day, symbols[i], "sell", -orders.shares[i], price[i], values[k], c[k], d[k], m[k]))
            cash += float(np.sum(values - c - d - m))
            sold, comm, stamp, impact = float(values.sum()), float(c.sum()), float(d.sum()), float(m.sum())
            buy = np.flatnonzero((orders.shares > 0) & open_buy[t])
            qty = afford(orders.shares[buy], price[buy], cash, median_amount[t - 1, buy], lot[t - 1, buy], costs)
            values = qty * price[buy]
            c, _, m = costs.costs("buy", values, median_amount[t - 1, buy])
            for k, i in enumerate(buy):
                if qty[k] > 0:
                    held[i] += qty[k]
                    trades.append((day, symbols[i], "buy", qty[k], price[i], values[k], c[k], 0.0, m[k]))
            cash -= float(np.sum(values + c + m))
            bought, comm, impact = float(values.sum()), comm + float(c.sum()), impact + float(m.sum())
            filled += bought + sold

            gone = (held > 0) & ~np.isnat(delist) & (delist <= day.to_datetime64())
            for i in np.flatnonzero(gone):
                value = held[i] * last_close[t, i] * cfg.delist_recovery
                cash += value
                trades.append((day, symbols[i], "delist", held[i], last_close[t, i] * cfg.delist_recovery, value, 0, 0,
                               0))
                held[i], target[i] = 0.0, 0.0
            nav = cash + float(np.nansum(held * np.nan_to_num(last_close[t])))
            daily.append((day, nav, cash, int((held > 0).sum()), bought, sold, comm, stamp, impact))
        if t + 1 == len(cal):
            break
        # the evening: a new target on a signal date, then the next session's orders
        if t in starts:
            if current is not None:
                rebalances.append((current[0], current[1], ordered, filled))
            weights = targets[starts[t]]
            nav = cash + float(np.nansum(held * np.nan_to_num(last_close[t])))
            w = np.zeros(n)
            w[[index[s] for s in weights.index]] = weights.to_numpy()
            target = target_shares(w, nav, last_close[t], lot[t])
            ordered = float(np.sum(np.abs(target - held) * np.nan_to_num(last_close[t])))
            filled, current = 0.0, (starts[t], cal[t + 1])
        state = session(last_close[t], ~traded[t], evening_up[t], evening_down[t], median_amount[t],
                        cfg.participation, lot[t])
        orders = plan(held, target, cash, state, costs)
    if current is not None:
        rebalances.append((current[0], current[1], ordered, filled))
    daily_frame = pd.DataFrame(daily, columns=["date", "nav", "cash", "positions", "bought", "sold", "commission",
                                               "stamp_duty", "impact"]).set_index("date")
    trade_frame = pd.DataFrame(trades, columns=["date", "symbol", "side", "shares", "price", "value", "commission",
                                                "stamp_duty", "impact"])
    reb = pd.DataFrame(rebalances, columns=["signal_date", "trade_start", "ordered", "filled"])
    reb["fill_ratio"] = (reb["filled"] / reb["ordered"]).where(reb["ordered"] > 0)
    return BacktestResult(daily_frame, trade_frame, reb)
