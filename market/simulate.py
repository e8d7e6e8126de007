"""The built-in simulated A-share market: contract-valid tables plus a ground truth.

Each stock carries a latent state; only the contract's columns show it.

* **Prices.** A latent log fair price moves by market (volatility clustering, fat tails),
  industry, small-cap factor and idiosyncratic (Student-t) shocks plus the drifts below. The
  close follows it within the board's daily limit (10%; 20% ChiNext from 2020-08-24; 5% under
  ST), so a big move becomes a run of limit days; a fair price far beyond the limit gives a
  one-price, limit-locked bar. Ex-rights days (dividends, bonus shares) move ``adj_factor``.
* **Attention** (a Markov chain per stock): dormant -> accumulation -> discovery -> dormant.
  Dormant stocks enter accumulation at a monthly hazard that rises with cheapness (book to
  price from announced fundamentals), ownership stability and small size. Accumulation shows
  only faintly -- turnover creeps up, the price is quiet, holder counts fall -- with a small
  drift; discovery brings the re-rating drift and loud turnover, then holder counts rise.
* **Noise trading and reversal.** Occasional hype shocks move price and turnover together and
  then mean-revert (short-term reversal).
* **Value traps.** Some cheap stocks have earnings that decay into losses; they bleed, get ST
  after two annual losses and may be delisted after a third (or after 20 closes below 1.0).
* **Liquidity crises.** At random times (at least one per run) small and crowded stocks fall
  together for 4-8 days while their turnover dries up and suspensions spike.
* **Size premium.** Smaller stocks drift up relative to larger ones.

``signal`` scales every source of cross-sectional predictability (size premium, reversal,
attention and trap drifts, crisis losses by size and crowding). At ``signal=0`` the latent
states still move turnover and holders, but returns ignore them.

Ground truth, at every month-end for each stock trading that day: the expected log return
over the next 21 trading days given the latent state (``expected_return``) and its parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HORIZON = 21
"""Trading days of the ground truth's forward window."""

INDUSTRIES = (
    "agriculture", "mining", "chemicals", "steel", "nonferrous", "electronics", "autos",
    "appliances", "food", "textiles", "light_industry", "pharma", "utilities", "transport",
    "real_estate", "retail", "services", "conglomerate", "building_materials", "construction",
    "electrical_equipment", "machinery", "defense", "computers", "media", "telecom", "banks",
    "non_bank_finance",
)


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of the simulated market. Rates are per trading day unless named otherwise."""

    n_stocks: int = 3000
    years: int = 10
    seed: int = 0
    signal: float = 1.0
    start: str = "2015-01-01"
    prelisted_share: float = 0.8
    chinext_share: float = 0.18
    # sizes and prices
    cap_median: float = 4.0e9
    cap_sigma: float = 0.85
    price_median: float = 13.0
    # returns
    market_drift: float = 0.0003
    market_vol: float = 0.014
    vol_persistence: float = 0.985
    vol_of_vol: float = 0.45
    industry_vol: float = 0.006
    idio_vol: float = 0.018
    idio_df: float = 3.5
    smb_vol: float = 0.004
    size_premium: float = 0.0005
    # attention chain
    discovery_base: float = 1 / 600
    cheap_loading: float = 0.9
    stable_loading: float = 0.8
    small_loading: float = 0.9
    accumulation_days: float = 30.0
    discovery_days: float = 20.0
    accumulation_drift: float = 0.0010
    discovery_drift: float = 0.0055
    # noise trading
    hype_rate: float = 0.015
    hype_size: float = 0.07
    hype_persistence: float = 0.93
    news_rate: float = 0.02
    news_size: float = 0.06
    # value traps and delisting
    trap_share: float = 0.06
    trap_drift: float = -0.0005
    roe_mean: float = 0.09
    delist_probability: float = 0.025
    # crises
    crises_per_year: float = 0.25
    crisis_small_drop: float = 0.025
    # turnover (log scale)
    turnover_median: float = 0.0125
    turnover_persistence: float = 0.98
    turnover_idio_sd: float = 0.65
    turnover_noise_sd: float = 0.30
    turnover_market_persistence: float = 0.99
    # suspensions
    suspension_hazard: float = 0.003


@dataclass
class SimulatedMarket:
    """Contract tables (by name), the ground truth and the config that produced them."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    crises: pd.DataFrame
    config: SimulationConfig


def trading_calendar(start: str, years: int) -> pd.DatetimeIndex:
    """Weekdays from ``start`` for ``years`` years, less New Year, a Spring Festival week,
    Labour Day and the National Day week (fixed dates, about 248 days a year)."""
    start_ts = pd.Timestamp(start)
    days = pd.bdate_range(start_ts, start_ts + pd.DateOffset(years=years) - pd.Timedelta(days=1))
    md = days.month * 100 + days.day
    holiday = (md == 101) | ((md >= 210) & (md <= 216)) | ((md >= 501) & (md <= 503)) | ((md >= 1001) & (md <= 1007))
    return pd.DatetimeIndex(days[~holiday], name="date")


def _symbols(board: np.ndarray) -> np.ndarray:
    out = np.empty(len(board), dtype=object)
    main = np.flatnonzero(board == "main")
    sh, sz = main[::2], main[1::2]
    out[sh] = [f"sh{600000 + i:06d}" for i in range(len(sh))]
    out[sz] = [f"sz{1 + i:06d}" for i in range(len(sz))]
    cx = np.flatnonzero(board == "chinext")
    out[cx] = [f"sz{300001 + i:06d}" for i in range(len(cx))]
    return out


def _ranks(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cross-sectional rank in [-1, 1] among ``mask`` (0 elsewhere)."""
    out = np.zeros(len(x))
    idx = np.flatnonzero(mask)
    if len(idx) > 1:
        order = np.argsort(np.argsort(x[idx], kind="stable"), kind="stable")
        out[idx] = 2 * order / (len(idx) - 1) - 1
    return out


@dataclass
class _Fundamentals:
    period_end: pd.DatetimeIndex
    announce_idx: np.ndarray  # (Q, N) trading-day index of announcement (-1: before the window)
    announce_date: np.ndarray  # (Q, N) datetime64
    net_income_ttm: np.ndarray
    revenue_ttm: np.ndarray
    book_equity: np.ndarray
    ocf_ttm: np.ndarray
    st_on: np.ndarray  # (T, N) bool schedule from annual reports
    delist_idx: np.ndarray  # (N,) scheduled delisting day (len(cal) = none)


def _fundamentals(cfg: SimulationConfig, rng: np.random.Generator, cal: pd.DatetimeIndex,
                  cap0: np.ndarray, trap: np.ndarray) -> _Fundamentals:
    n, t_len = len(cap0), len(cal)
    start = cal[0]
    periods = pd.date_range(start - pd.DateOffset(years=3), cal[-1], freq="QE")
    q_len = len(periods)
    # return on equity, annualised, per quarter
    roe_mean = rng.normal(cfg.roe_mean, 0.045, n)
    roe = roe_mean + rng.normal(0, 0.025, (q_len, n))
    trap_start = rng.integers(-4, q_len - 4, n)
    qi = np.arange(q_len)[:, None]
    decay = np.clip((qi - trap_start[None, :]) / 8.0, 0, 1)
    roe = np.where(trap[None, :], (1 - decay) * roe + decay * (-0.14 + rng.normal(0, 0.03, (q_len, n))), roe)
    growth = 1 + roe / 4 * 0.7
    bp = np.exp(rng.normal(np.log(0.4), 0.45, n))
    start_q = np.searchsorted(periods, start) - 1
    path = np.cumprod(growth, axis=0)
    book = cap0 * bp * path / path[max(start_q, 0)]
    ni_q = roe / 4 * np.vstack([book[:1] / growth[:1], book[:-1]])
    ni_ttm = pd.DataFrame(ni_q).rolling(4, min_periods=1).sum().to_numpy() * (4 / np.minimum(np.arange(1, q_len + 1), 4))[:, None]
    asset_turn = np.exp(rng.normal(np.log(0.7), 0.5, n))
    revenue = np.abs(book) * asset_turn * np.exp(rng.normal(0, 0.05, (q_len, n)))
    ocf = ni_ttm * rng.normal(1.0, 0.4, (q_len, n)) + revenue * rng.normal(0, 0.03, (q_len, n))
    # announcement lags (calendar days) by fiscal quarter; Q1 never before the annual report
    quarter = periods.quarter.to_numpy()
    lo = np.select([quarter == 1, quarter == 2, quarter == 3], [18, 35, 18], 60)
    hi = np.select([quarter == 1, quarter == 2, quarter == 3], [30, 61, 31], 110)
    lag = rng.integers(lo[:, None], hi[:, None] + 1, (q_len, n))
    announce = periods.to_numpy()[:, None] + lag.astype("timedelta64[D]")
    for j in range(1, q_len):
        if quarter[j] == 1:
            announce[j] = np.maximum(announce[j], announce[j - 1])
    cal_np = cal.to_numpy()
    a_idx = np.searchsorted(cal_np, announce, side="left")
    a_idx = np.where(announce < cal_np[0], -1, a_idx)
    announce = np.where((a_idx >= 0) & (a_idx < t_len), cal_np[np.clip(a_idx, 0, t_len - 1)], announce)
    # ST and delisting from annual reports: ST after two annual losses (or negative book),
    # lifted by a profitable year; a third loss while ST delists with probability 0.6.
    st_on = np.zeros((t_len, n), dtype=bool)
    delist_idx = np.full(n, t_len)
    annual = np.flatnonzero(quarter == 4)
    state = np.zeros(n, dtype=bool)
    losses = np.zeros(n, dtype=int)
    last_change = np.zeros(n, dtype=int)
    for q in annual:
        loss = ni_ttm[q] < 0
        losses = np.where(loss, losses + 1, 0)
        day = np.clip(a_idx[q] + 1, 0, t_len)
        new_state = np.where(state, (losses > 0) | (book[q] < 0), (losses >= 2) | (book[q] < 0))
        delist = state & (losses >= 3) & (rng.random(n) < cfg.delist_probability) & (delist_idx == t_len) & (a_idx[q] >= 0)
        delist_idx = np.where(delist, np.minimum(a_idx[q] + 30, t_len), delist_idx)
        for i in np.flatnonzero(new_state != state):
            st_on[max(last_change[i], 0):day[i], i] = state[i]
            last_change[i] = day[i]
        state = new_state
    for i in np.flatnonzero(state):
        st_on[max(last_change[i], 0):, i] = True
    return _Fundamentals(periods, a_idx, announce, ni_ttm, revenue, book, ocf, st_on, delist_idx)


@dataclass(frozen=True)
class _Stocks:
    """What never changes about each stock during a run."""

    board: np.ndarray
    industry_id: np.ndarray
    list_idx: np.ndarray
    price0: np.ndarray
    beta: np.ndarray
    idio: np.ndarray
    stability: np.ndarray
    holder_vol: np.ndarray
    trap: np.ndarray
    turn_base: np.ndarray


@dataclass
class _State:
    """What the day steps carry from one day to the next (arrays: one value per stock)."""

    log_fair: np.ndarray          # latent fair price, adjusted-price space
    adj: np.ndarray
    close: np.ndarray
    shares_total: np.ndarray
    shares_float: np.ndarray
    state: np.ndarray             # attention: 0 dormant, 1 accumulation, 2 discovery
    days_in_state: np.ndarray
    hype: np.ndarray
    turn_idio: np.ndarray
    susp_left: np.ndarray
    susp_zero_rows: np.ndarray
    below_one: np.ndarray
    delist_idx: np.ndarray
    started: np.ndarray
    hazard: np.ndarray
    size_exp: np.ndarray
    state_days: np.ndarray        # days in accumulation / discovery since the last quarter end
    holder_log: np.ndarray
    top10: np.ndarray
    turn_mkt: float = 0.0
    log_vol: float = 0.0
    q_days: int = 0


@dataclass(frozen=True)
class _Market:
    """The day's market-wide draws."""

    vol: float
    m: float
    ind_ret: np.ndarray
    smb: float
    crisis_hit: float


@dataclass(frozen=True)
class _Quotes:
    """The day's prices and limits of every stock (before suspensions are applied)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    up: np.ndarray
    down: np.ndarray
    locked: np.ndarray
    fair_raw: np.ndarray


def _market_step(cfg: SimulationConfig, rng: np.random.Generator, s: _State, crisis: bool) -> _Market:
    """Market (clustered volatility, fat tails), industry and size-factor shocks; crisis drops."""
    s.log_vol = cfg.vol_persistence * s.log_vol + cfg.vol_of_vol * np.sqrt(1 - cfg.vol_persistence ** 2) * rng.standard_normal()
    vol = np.exp(s.log_vol - 0.5 * cfg.vol_of_vol ** 2)
    m = cfg.market_drift + cfg.market_vol * vol * rng.standard_t(4) / np.sqrt(2)
    ind_ret = cfg.industry_vol * vol * rng.standard_normal(len(INDUSTRIES))
    smb = cfg.signal * cfg.size_premium + cfg.smb_vol * vol * rng.standard_normal()
    crisis_hit = 0.0
    if crisis:
        m -= 0.01
        crisis_hit = cfg.signal * cfg.crisis_small_drop
    return _Market(vol, m, ind_ret, smb, crisis_hit)


def _attention_step(rng: np.random.Generator, s: _State, hazard: np.ndarray, p12: float, p20: float) -> np.ndarray:
    """One step of each stock's attention chain; returns the state's volatility multiplier."""
    n = len(s.state)
    u = rng.random(n)
    to1 = (s.state == 0) & (u < hazard)
    to2 = (s.state == 1) & (u < p12)
    to0 = (s.state == 2) & (u < p20)
    s.state = np.where(to1, 1, np.where(to2, 2, np.where(to0, 0, s.state))).astype(np.int8)
    s.days_in_state = np.where(to1 | to2 | to0, 0, s.days_in_state + 1)
    s.state_days[0] += s.state == 1
    s.q_days += 1
    s.state_days[1] += s.state == 2
    return np.select([s.state == 1, s.state == 2], [0.8, 1.4], 1.0)


def _fair_value_step(cfg: SimulationConfig, rng: np.random.Generator, s: _State, k: _Stocks, mkt: _Market,
                     vol_mult: np.ndarray, mu_state: np.ndarray) -> None:
    """Move the latent fair price: factors, idiosyncratic noise, news, hype shocks and their
    reversion (the predictable part), attention and trap drifts, crisis losses."""
    n, sig = len(s.state), cfg.signal
    jump = (rng.random(n) < cfg.hype_rate) * rng.normal(0, cfg.hype_size, n)
    news = (rng.random(n) < cfg.news_rate) * rng.standard_t(3, n) * cfg.news_size
    reversion = sig * (1 - cfg.hype_persistence) * s.hype
    s.hype = cfg.hype_persistence * s.hype + jump
    crowd = np.clip(s.size_exp, 0, None) * (1 + 0.7 * (s.state > 0))
    eps = rng.standard_t(cfg.idio_df, n) / np.sqrt(cfg.idio_df / (cfg.idio_df - 2))
    d_log = (k.beta * mkt.m + mkt.ind_ret[k.industry_id] + s.size_exp * mkt.smb + k.idio * mkt.vol * vol_mult * eps
             + mu_state[s.state] + sig * cfg.trap_drift * k.trap
             + news + jump - reversion - mkt.crisis_hit * crowd)
    s.log_fair = s.log_fair + d_log


def _ex_rights_step(rng: np.random.Generator, s: _State, ex_today: bool, newly: np.ndarray) -> np.ndarray:
    """Yearly in July about a third of stocks go ex-rights (dividend and bonus shares): the
    adjustment factor of the day (1 elsewhere)."""
    n = len(s.state)
    k = np.ones(n)
    if ex_today:
        ex = rng.random(n) < 0.35
        bonus = np.where(rng.random(n) < 0.3, rng.choice([1.2, 1.3, 1.5, 2.0], n), 1.0)
        div = np.clip(rng.normal(0.01, 0.008, n), 0, 0.04)
        k = np.where(ex & ~newly, bonus / (1 - div), 1.0)
        s.shares_total = np.where(ex, (s.shares_total * bonus).round(-2), s.shares_total)
        s.shares_float = np.minimum(np.where(ex, (s.shares_float * bonus).round(-2), s.shares_float), s.shares_total)
    return k


def _suspension_step(cfg: SimulationConfig, rng: np.random.Generator, s: _State, listed: np.ndarray,
                     newly: np.ndarray, crisis: bool) -> np.ndarray:
    """Start suspensions (more in crises and for small stocks) and count them down; returns who
    is suspended today."""
    n = len(s.state)
    hz = cfg.suspension_hazard * (3.0 if crisis else 1.0) * (1 + np.clip(s.size_exp, 0, None))
    start_susp = listed & ~newly & (s.susp_left == 0) & (rng.random(n) < hz)
    long = rng.random(n) < 0.35
    dur = np.where(long, np.exp(rng.normal(np.log(30), 0.9, n)).astype(int) + 1, 1 + rng.geometric(0.5, n))
    s.susp_left = np.where(start_susp, dur, s.susp_left)
    s.susp_zero_rows = np.where(start_susp, rng.random(n) < 0.15, s.susp_zero_rows)
    suspended = s.susp_left > 0
    s.susp_left = np.maximum(s.susp_left - 1, 0)
    return suspended


def _quote_step(rng: np.random.Generator, s: _State, k: _Stocks, ref: np.ndarray, st: np.ndarray, wide: bool,
                vol: float, vol_mult: np.ndarray) -> _Quotes:
    """The day's open, high, low and close within the board's limits; a fair price far beyond a
    limit gives a one-price, limit-locked bar."""
    n = len(s.state)
    lim = np.where(st, 0.05, np.where((k.board == "chinext") & wide, 0.20, 0.10))
    up = np.round(ref * (1 + lim), 2)
    down = np.maximum(np.round(ref * (1 - lim), 2), 0.01)
    fair_raw = np.exp(s.log_fair) / s.adj
    new_close = np.clip(np.round(fair_raw, 2), down, up)
    locked_up = np.log(fair_raw) > np.log(up) + 0.03
    locked_down = np.log(fair_raw) < np.log(down) - 0.03
    gap = rng.uniform(0.2, 0.6, n) * (np.log(np.maximum(fair_raw, 0.01)) - np.log(ref)) + rng.normal(0, 0.3, n) * k.idio
    o = np.clip(np.round(ref * np.exp(gap), 2), down, up)
    spread = k.idio * vol * vol_mult
    h = np.clip(np.round(np.maximum(o, new_close) * np.exp(np.abs(rng.normal(0, 0.6, n)) * spread), 2), down, up)
    lo_ = np.clip(np.round(np.minimum(o, new_close) * np.exp(-np.abs(rng.normal(0, 0.6, n)) * spread), 2), down, up)
    o = np.where(locked_up, up, np.where(locked_down, down, o))
    h = np.maximum(np.where(locked_up, up, np.where(locked_down, down, h)), np.maximum(o, new_close))
    lo_ = np.minimum(np.where(locked_up, up, np.where(locked_down, down, lo_)), np.minimum(o, new_close))
    new_close = np.where(locked_up, up, np.where(locked_down, down, new_close))
    return _Quotes(o, h, lo_, new_close, up, down, locked_up | locked_down, fair_raw)


def _turnover_step(cfg: SimulationConfig, rng: np.random.Generator, s: _State, k: _Stocks, q: _Quotes,
                   ref: np.ndarray, vol: float, crisis: bool) -> np.ndarray:
    """Log turnover: stock level, market level, a persistent idiosyncratic part, the day's move,
    attention, hype, crisis dry-up and locked limits; returns the day's volume."""
    n = len(s.state)
    s.turn_mkt = cfg.turnover_market_persistence * s.turn_mkt + 0.08 * rng.standard_normal() - (0.02 if crisis else 0.0)
    s.turn_idio = cfg.turnover_persistence * s.turn_idio + cfg.turnover_idio_sd * np.sqrt(1 - cfg.turnover_persistence ** 2) * rng.standard_normal(n)
    ret = q.close / ref - 1
    log_turn = (k.turn_base + s.turn_mkt + s.turn_idio + rng.normal(0, cfg.turnover_noise_sd, n)
                + 0.25 * np.minimum(np.abs(ret) / (k.idio * vol), 4)
                + np.where(s.state == 1, 0.45 * np.minimum(s.days_in_state / cfg.accumulation_days, 1), 0)
                + np.where(s.state == 2, 0.9, 0) + 8 * np.abs(s.hype)
                - 0.6 * (crisis * np.clip(s.size_exp, 0, None))
                + np.where(q.locked, -1.8, 0))
    turnover = np.minimum(np.exp(log_turn), 0.5)
    return np.maximum(np.round(turnover * s.shares_float, -2), 100.0)


def _emit_rows(cols: dict[str, list[np.ndarray]], t: int, s: _State, q: _Quotes, volume: np.ndarray,
               st: np.ndarray, emit: np.ndarray, zero_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append the day's bars (a zero-volume suspended row repeats the close); returns the rows'
    stock indices and which of them are zero-volume rows."""
    idx = np.flatnonzero(emit)
    zr = zero_row[idx]
    c_row = s.close[idx]
    cols["i"].append(idx)
    cols["t"].append(np.full(len(idx), t, dtype=np.int32))
    for name, arr in (("open", q.open), ("high", q.high), ("low", q.low)):
        cols[name].append(np.where(zr, c_row, arr[idx]))
    cols["close"].append(c_row)
    cols["volume"].append(np.where(zr, 0.0, volume[idx]))
    vwap = (q.open[idx] + q.high[idx] + q.low[idx] + c_row) / 4
    cols["amount"].append(np.where(zr, 0.0, np.round(volume[idx] * vwap, 2)))
    cols["adj_factor"].append(s.adj[idx])
    cols["shares_total"].append(s.shares_total[idx])
    cols["shares_float"].append(s.shares_float[idx])
    cols["st"].append(st[idx])
    cols["limit_up"].append(q.up[idx])
    cols["limit_down"].append(q.down[idx])
    return idx, zr


def _quarter_end_step(rng: np.random.Generator, s: _State, k: _Stocks) -> tuple[np.ndarray, np.ndarray]:
    """Holders' disclosure for the quarter: counts fall in accumulation and rise in discovery;
    returns (holder count, top-10 ratio)."""
    n = len(s.state)
    frac = s.state_days / max(1, s.q_days)
    d_holders = (-0.12 * frac[0] + 0.18 * frac[1] + rng.normal(0, k.holder_vol))
    s.holder_log = s.holder_log + d_holders
    s.top10 = np.clip(s.top10 * np.exp(-0.6 * d_holders + rng.normal(0, 0.02, n)), 0.01, 0.99)
    s.state_days[:] = 0
    s.q_days = 0
    return np.exp(s.holder_log).round(), s.top10.copy()


def _month_end_step(cfg: SimulationConfig, s: _State, k: _Stocks, fund: _Fundamentals, t: int,
                    listed: np.ndarray) -> None:
    """Refresh the discovery hazard and the size exposure from what is public."""
    n = len(s.state)
    cap = s.close * s.shares_total
    active = listed & (t < s.delist_idx)
    q_known = (fund.announce_idx <= t).sum(axis=0) - 1
    book = fund.book_equity[np.clip(q_known, 0, None), np.arange(n)]
    cheap = _ranks(np.where(q_known >= 0, book / cap, 0.0), active)
    small = -_ranks(np.log(cap), active)
    stable = _ranks(k.stability, active)
    s.hazard = cfg.discovery_base * np.exp(cfg.cheap_loading * cheap + cfg.stable_loading * stable
                                           + cfg.small_loading * small) * np.where(k.trap, 0.3, 1.0)
    lc = np.log(cap[active])
    s.size_exp = np.zeros(n)
    s.size_exp[active] = -(lc - lc.mean()) / lc.std()


def simulate_market(config: SimulationConfig | None = None,
                    progress: Callable[[int, int], None] | None = None) -> SimulatedMarket:
    """Simulate a contract-valid market and its ground truth; deterministic per ``config.seed``.

    Set-up draws the static attributes, the fundamentals and the crises; then each day runs the
    mechanisms in a fixed order (the order of the random draws, so one seed gives one market):
    market shocks, attention, fair value, ex-rights, new listings, suspensions, quotes, turnover,
    the day's bars; at quarter ends the holders' disclosure, at month ends the hazards, size
    exposure and ground truth."""
    cfg = config or SimulationConfig()
    if cfg.n_stocks < 50 or cfg.years < 1:
        raise ValueError("need at least 50 stocks and 1 year")
    rng = np.random.default_rng(cfg.seed)
    cal = trading_calendar(cfg.start, cfg.years)
    t_len, n, sig = len(cal), cfg.n_stocks, cfg.signal
    month = cal.to_period("M")
    is_month_end = np.r_[month[1:] != month[:-1], True]
    ex_day = np.r_[False, (cal.month[1:] == 7) & (cal.month[:-1] != 7)]
    wide_limits = cal >= pd.Timestamp("2020-08-24")

    # --- static attributes -------------------------------------------------------------------
    board = np.where(rng.random(n) < cfg.chinext_share, "chinext", "main")
    symbol = _symbols(board)
    industry_id = rng.integers(0, len(INDUSTRIES), n)
    prelisted = rng.random(n) < cfg.prelisted_share
    list_idx = np.where(prelisted, 0, rng.integers(1, max(t_len - HORIZON, 2), n))
    list_date = np.where(prelisted, (cal[0] - pd.to_timedelta(rng.integers(300, 7000, n), "D")).to_numpy(),
                         cal.to_numpy()[np.clip(list_idx, 0, t_len - 1)])
    cap0 = np.exp(rng.normal(np.log(cfg.cap_median), cfg.cap_sigma, n))
    cap0 = np.where(prelisted, cap0, cap0 * 0.8)
    price0 = np.clip(np.exp(rng.normal(np.log(cfg.price_median), 0.6, n)), 3.0, 200.0).round(2)
    shares_total = (cap0 / price0).round(-2)
    float_ratio = np.where(rng.random(n) < 0.45, 1.0, np.clip(rng.beta(2.0, 1.2, n), 0.15, 1.0))
    shares_float = np.minimum((shares_total * float_ratio).round(-2), shares_total)
    beta = rng.normal(1.0, 0.2, n)
    idio = cfg.idio_vol * np.exp(rng.normal(0, 0.22, n))
    stability = rng.random(n)  # 1 = most stable ownership
    holder_vol = 0.02 + 0.16 * (1 - stability) ** 1.5
    trap = rng.random(n) < cfg.trap_share
    turn_base = np.log(cfg.turnover_median) + rng.normal(0, 0.45, n)
    fund = _fundamentals(cfg, rng, cal, cap0, trap)
    stocks = _Stocks(board, industry_id, list_idx, price0, beta, idio, stability, holder_vol, trap, turn_base)

    # crises: Poisson starts (at least one), lasting 4-8 days
    n_crises = max(1, rng.poisson(cfg.crises_per_year * cfg.years))
    crisis_start = np.sort(rng.choice(np.arange(60, t_len - 10), n_crises, replace=False))
    crisis_len = rng.integers(4, 9, n_crises)
    in_crisis = np.zeros(t_len, dtype=bool)
    for s_, d in zip(crisis_start, crisis_len, strict=False):
        in_crisis[s_:s_ + d] = True
    crisis_rate = n_crises / t_len

    # --- dynamic state ---------------------------------------------------------------------
    turn_idio = rng.normal(0, 0.65, n)
    holder_log = np.log(np.maximum(cap0 * float_ratio / np.exp(rng.normal(np.log(1.5e5), 0.5, n)), 500))
    top10 = np.clip(rng.beta(2.2, 3.0, n), 0.03, 0.95)
    s = _State(log_fair=np.log(price0), adj=np.ones(n), close=price0.copy(), shares_total=shares_total,
               shares_float=shares_float, state=np.zeros(n, dtype=np.int8), days_in_state=np.zeros(n),
               hype=np.zeros(n), turn_idio=turn_idio, susp_left=np.zeros(n, dtype=int),
               susp_zero_rows=np.zeros(n, dtype=bool), below_one=np.zeros(n, dtype=int),
               delist_idx=fund.delist_idx.copy(), started=np.zeros(n, dtype=bool),
               hazard=np.full(n, cfg.discovery_base), size_exp=np.zeros(n), state_days=np.zeros((2, n)),
               holder_log=holder_log, top10=top10)
    holder_rows: list[tuple[int, np.ndarray, np.ndarray]] = []
    q_ends = set(np.flatnonzero(np.r_[cal.quarter[1:] != cal.quarter[:-1], True]).tolist())
    p12, p20 = 1 / cfg.accumulation_days, 1 / cfg.discovery_days
    mu_state = sig * np.array([0.0, cfg.accumulation_drift, cfg.discovery_drift])
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "i", "t", "open", "high", "low", "close", "volume", "amount", "adj_factor",
        "shares_total", "shares_float", "st", "limit_up", "limit_down")}
    truth_parts: list[pd.DataFrame] = []

    for t in range(t_len):
        listed = (list_idx <= t) & (t <= s.delist_idx)
        newly = listed & ~s.started
        s.started |= listed
        st = fund.st_on[t]
        mkt = _market_step(cfg, rng, s, bool(in_crisis[t]))
        vol_mult = _attention_step(rng, s, s.hazard, p12, p20)
        _fair_value_step(cfg, rng, s, stocks, mkt, vol_mult, mu_state)
        k = _ex_rights_step(rng, s, bool(ex_day[t]), newly)
        s.adj = s.adj * k
        ref = s.close / k
        # a new listing starts at its issue price, its fair price there too
        s.close = np.where(newly, price0, s.close)
        ref = np.where(newly, price0, ref)
        s.log_fair = np.where(newly, np.log(price0 * s.adj), s.log_fair)
        suspended = _suspension_step(cfg, rng, s, listed, newly, bool(in_crisis[t]))
        q = _quote_step(rng, s, stocks, ref, st, bool(wide_limits[t]), mkt.vol, vol_mult)
        volume = _turnover_step(cfg, rng, s, stocks, q, ref, mkt.vol, bool(in_crisis[t]))
        trading = listed & ~suspended
        zero_row = listed & suspended & s.susp_zero_rows & ~newly
        # a suspended stock keeps its close; its fair price keeps moving
        s.close = np.where(trading, q.close, s.close)
        s.below_one = np.where(trading & (s.close < 1.0), s.below_one + 1, np.where(trading, 0, s.below_one))
        s.delist_idx = np.where((s.below_one >= 20) & (s.delist_idx > t + 10), t + 10, s.delist_idx)
        idx, zr = _emit_rows(cols, t, s, q, volume, st, trading | zero_row, zero_row)
        if t in q_ends:  # announced with the fundamentals
            holder_rows.append((t, *_quarter_end_step(rng, s, stocks)))
        if is_month_end[t]:  # hazards and size exposure from what is public; the ground truth
            _month_end_step(cfg, s, stocks, fund, t, listed)
            truth_parts.append(_truth(cfg, t, idx[~zr], s.state, s.hazard, p12, p20, mu_state, s.hype, s.size_exp,
                                      trap, crisis_rate, np.log(q.fair_raw / s.close), sig))
        if progress is not None:
            progress(t + 1, t_len)
    delist_idx = s.delist_idx

    bars = _assemble_bars(cols, symbol, cal)
    # delist_date is the last trading day (the last bar) of a stock whose listing ended
    last_bar = bars.groupby("symbol", sort=False)["date"].max()
    sec = pd.DataFrame({
        "symbol": symbol, "list_date": pd.to_datetime(list_date).normalize(),
        "name": [f"SIM{i:04d}" for i in range(n)], "board": board,
        "industry": np.array(INDUSTRIES)[industry_id],
    })
    sec.insert(2, "delist_date", sec["symbol"].map(last_bar).where(delist_idx < t_len).astype("datetime64[ns]"))
    ever = sec["symbol"].isin(last_bar.index)
    sec = sec[ever].sort_values("symbol").reset_index(drop=True)
    fundamentals = _fundamentals_table(fund, symbol, list_idx, delist_idx, cal, ever.to_numpy())
    holders = _holders_table(holder_rows, fund, symbol, list_idx, delist_idx, cal, ever.to_numpy())
    truth = pd.concat(truth_parts, ignore_index=True)
    truth.insert(1, "symbol", symbol[truth.pop("i").to_numpy()])
    truth.insert(0, "date", cal[truth.pop("t").to_numpy()])
    truth = truth.sort_values(["date", "symbol"]).reset_index(drop=True)
    crises = pd.DataFrame({"start": cal[crisis_start], "days": crisis_len})
    tables = {"securities": sec, "daily_bars": bars, "fundamentals": fundamentals, "holders": holders}
    return SimulatedMarket(tables=tables, truth=truth, crises=crises, config=cfg)


def _truth(cfg: SimulationConfig, t: int, idx: np.ndarray, state: np.ndarray, hazard: np.ndarray,
           p12: float, p20: float, mu_state: np.ndarray, hype: np.ndarray, size_exp: np.ndarray,
           trap: np.ndarray, crisis_rate: float, pending: np.ndarray, sig: float) -> pd.DataFrame:
    """Expected log return over the next HORIZON days given the latent state, by part."""
    lam = hazard[idx]
    dist = np.zeros((len(idx), 3))
    dist[np.arange(len(idx)), state[idx]] = 1.0
    attention = np.zeros(len(idx))
    for _ in range(HORIZON):
        d0, d1, d2 = dist[:, 0], dist[:, 1], dist[:, 2]
        dist = np.column_stack([d0 * (1 - lam) + d2 * p20, d0 * lam + d1 * (1 - p12), d1 * p12 + d2 * (1 - p20)])
        attention += dist @ mu_state
    reversal = -sig * hype[idx] * (1 - cfg.hype_persistence ** HORIZON)
    size = HORIZON * sig * cfg.size_premium * size_exp[idx]
    trap_part = HORIZON * sig * cfg.trap_drift * trap[idx]
    crowd = np.clip(size_exp[idx], 0, None) * (1 + 0.7 * (state[idx] > 0))
    crisis = -HORIZON * crisis_rate * 6.0 * sig * cfg.crisis_small_drop * crowd
    pend = pending[idx]
    total = attention + reversal + size + trap_part + crisis + pend
    return pd.DataFrame({
        "t": t, "i": idx, "expected_return": total, "er_attention": attention, "er_reversal": reversal,
        "er_size": size, "er_trap": trap_part, "er_crisis": crisis, "er_pending": pend,
        "attention_state": state[idx], "discovery_hazard": lam, "value_trap": trap[idx],
    })


def _assemble_bars(cols: dict[str, list[np.ndarray]], symbol: np.ndarray, cal: pd.DatetimeIndex) -> pd.DataFrame:
    data = {k: np.concatenate(v) for k, v in cols.items()}
    i, t = data.pop("i"), data.pop("t")
    order = np.lexsort((t, symbol[i]))
    out = pd.DataFrame({"symbol": symbol[i][order], "date": cal.to_numpy()[t][order]})
    for k, v in data.items():
        out[k] = v[order]
    out["symbol"] = out["symbol"].astype("str")
    return out


def _fundamentals_table(fund: _Fundamentals, symbol: np.ndarray, list_idx: np.ndarray,
                        delist_idx: np.ndarray, cal: pd.DatetimeIndex, ever: np.ndarray) -> pd.DataFrame:
    q_len, n = fund.announce_idx.shape
    qq, ii = np.meshgrid(np.arange(q_len), np.arange(n), indexing="ij")
    a = fund.announce_idx
    keep = (a < len(cal)) & (a <= delist_idx[None, :]) & ((a >= list_idx[None, :]) | (list_idx[None, :] == 0)) & ever[None, :]
    df = pd.DataFrame({
        "symbol": symbol[ii[keep]], "period_end": fund.period_end.to_numpy()[qq[keep]],
        "announce_date": fund.announce_date[keep],
        "net_income_ttm": fund.net_income_ttm[keep].round(0), "revenue_ttm": fund.revenue_ttm[keep].round(0),
        "book_equity": fund.book_equity[keep].round(0), "operating_cash_flow_ttm": fund.ocf_ttm[keep].round(0),
    })
    df["symbol"] = df["symbol"].astype("str")
    df["announce_date"] = pd.to_datetime(df["announce_date"]).astype("datetime64[ns]")
    return df.sort_values(["symbol", "period_end"]).reset_index(drop=True)


def _holders_table(rows: list[tuple[int, np.ndarray, np.ndarray]], fund: _Fundamentals, symbol: np.ndarray,
                   list_idx: np.ndarray, delist_idx: np.ndarray, cal: pd.DatetimeIndex, ever: np.ndarray) -> pd.DataFrame:
    parts = []
    period_pos = {p: q for q, p in enumerate(fund.period_end)}
    for t, count, top10 in rows:
        q = period_pos.get(pd.Timestamp(cal[t]).to_period("Q").end_time.normalize())
        if q is None:
            continue
        a = fund.announce_idx[q]
        keep = (a < len(cal)) & (a <= delist_idx) & (list_idx <= t) & ever
        parts.append(pd.DataFrame({
            "symbol": symbol[keep], "period_end": fund.period_end[q], "announce_date": fund.announce_date[q][keep],
            "holder_count": np.maximum(count[keep], 1).astype("int64"), "top10_ratio": top10[keep].round(4),
        }))
    df = pd.concat(parts, ignore_index=True)
    df["symbol"] = df["symbol"].astype("str")
    df["announce_date"] = pd.to_datetime(df["announce_date"]).astype("datetime64[ns]")
    return df.sort_values(["symbol", "period_end"]).reset_index(drop=True)


def write_market(sim: SimulatedMarket, out: str | Path) -> Path:
    """Write the contract tables, ``ground_truth.parquet`` and ``simulation.json`` into ``out``.

    Written atomically (:mod:`market.atomic`), so a failed or interrupted run never leaves a
    half-written market; an existing ``out`` is replaced.
    """
    import json

    from market.atomic import atomic_path

    out = Path(out)
    with atomic_path(out, directory=True) as tmp:
        for name, df in sim.tables.items():
            df.to_parquet(tmp / f"{name}.parquet", index=False, compression="zstd")
        sim.truth.to_parquet(tmp / "ground_truth.parquet", index=False, compression="zstd")
        meta = {"generator": "spotlight.simulate", "config": asdict(sim.config), "horizon_days": HORIZON,
                "crises": [{"start": f"{s:%Y-%m-%d}", "days": int(d)} for s, d in zip(sim.crises["start"], sim.crises["days"], strict=False)]}
        (tmp / "simulation.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out
