"""Benchmark: simulate the built-in market (default 3,000 stocks x 10 years) and write it.

Target on a 2-core machine: <= 60 s per run. Each repeat runs in a fresh process so its
peak resident memory is its own. Prints per-repeat figures, then medians.

    .venv/bin/python benchmarks/simulate.py [--stocks 3000] [--years 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once(stocks: int, years: int, seed: int) -> dict[str, float]:
    from market.simulate import SimulationConfig, simulate_market, write_market

    t0 = time.perf_counter()
    sim = simulate_market(SimulationConfig(n_stocks=stocks, years=years, seed=seed))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_market(sim, Path(tmp) / "market")
    t2 = time.perf_counter()
    return {"simulate_s": t1 - t0, "write_s": t2 - t1, "total_s": t2 - t0,
            "stock_days": len(sim.tables["daily_bars"]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=3000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(once(args.stocks, args.years, seed=0)))
        return
    runs = []
    for i in range(args.repeats):
        out = subprocess.run([sys.executable, __file__, "--once", f"--stocks={args.stocks}", f"--years={args.years}"],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        r = runs[-1]
        print(f"run {i + 1}: simulate {r['simulate_s']:.1f} s + write {r['write_s']:.1f} s = {r['total_s']:.1f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, {r['stock_days']:,} stock-days", flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"median over {len(runs)}: {med['total_s']:.1f} s total (target <= 60 s: "
          f"{'met' if med['total_s'] <= 60 else 'MISSED'}), {med['stock_days'] / med['total_s']:,.0f} stock-days/s, "
          f"peak RSS {med['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
