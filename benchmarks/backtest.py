"""Benchmark: 10 years of daily backtest simulation holding 100 names.

Market: the simulated 5,000-stock 10-year market in bench-out/ (simulated once, shared with
the other benchmarks). Signals: every month-end from the second year on, a seeded random
score for each stock trading that day, so the portfolio turns over fully every month (the
heaviest case for the order logic). Target on a 2-core machine: <= 20 s for the simulation
(market loading and signal building timed apart). Prints the median of ``--repeats`` runs.

    .venv/bin/python benchmarks/backtest.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
TARGET_S = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from backtest.engine import BacktestConfig, run_backtest
    from benchmarks.features import simulated_market
    from market.load import load_market

    t0 = time.perf_counter()
    market = load_market(simulated_market(args.stocks, args.years))
    cal = market.calendar
    month = cal.year * 12 + cal.month
    month_ends = cal[np.r_[month[1:] != month[:-1], True]][12:-1]
    bars = market.bars[market.bars["date"].isin(month_ends) & (market.bars["volume"] > 0)]
    rng = np.random.default_rng(0)
    predictions = pd.DataFrame({"date": bars["date"].to_numpy(), "symbol": bars["symbol"].astype(str).to_numpy(),
                                "score": rng.random(len(bars))})
    print(f"market and signals: {time.perf_counter() - t0:.1f}s; {len(cal)} sessions, {len(month_ends)} rebalances",
          flush=True)
    times = []
    for i in range(args.repeats):
        t = time.perf_counter()
        result = run_backtest(market, predictions, BacktestConfig(capital=1e8, top_n=100))
        times.append(time.perf_counter() - t)
        print(f"run {i + 1}: {times[-1]:.1f}s, {len(result.daily)} days, {len(result.trades)} trades", flush=True)
    median = statistics.median(times)
    print(f"median {median:.1f}s for {len(result.daily)} days x 100 names (target <= {TARGET_S:.0f}s: "
          f"{'met' if median <= TARGET_S else 'NOT met'})")


if __name__ == "__main__":
    main()
