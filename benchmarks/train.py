"""Benchmark: walk-forward training, 10 years of monthly refits on a 1,000-stock universe.

Market: the simulated 5,000-stock 10-year market in bench-out/ (simulated once, shared with
benchmarks/features.py), universe = the 1,000 smallest. The panel is built once (timed
apart); then the whole training step -- every walk-forward fold (LightGBM with early
stopping plus the four baselines), the final model and the evaluation -- runs ``--repeats``
times in this process. Target on a 2-core machine: <= 180 s for that training step.
Prints medians and where the time goes (per-fold LightGBM fit vs baselines vs scoring).

    .venv/bin/python benchmarks/train.py [--repeats 3] [--universe 1000]
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
TARGET_S = 180.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--universe", type=int, default=1000)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()

    from benchmarks.features import simulated_market
    from market.load import load_market
    from spotlight.config import load_config
    from training import models
    from training import train as tr

    cfg = load_config(universe={"n": args.universe}).train
    market = load_market(simulated_market(args.stocks, args.years))
    t0 = time.perf_counter()
    data = tr.prepare(market, cfg)
    panel_s = time.perf_counter() - t0
    members = int(data.members.sum())
    print(f"panel: {panel_s:.1f}s, {data.panel['date'].nunique()} month-ends, {members} member rows "
          f"(~{members // data.panel['date'].nunique()} a month), {len(data.features)} features", flush=True)

    # time LightGBM and the baselines separately by wrapping their fit methods
    spent: dict[str, float] = {}

    def timed(cls: type, key: str) -> None:
        original = cls.fit

        def fit(self, *a, **k):
            s = time.perf_counter()
            try:
                return original(self, *a, **k)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - s
        cls.fit = fit

    timed(models.GBM, "lightgbm_fit")
    timed(models.SingleFactor, "single_factor_fit")
    timed(models.RidgeRanks, "ridge_fit")

    totals, parts = [], []
    for k in range(args.repeats):
        spent.clear()
        t0 = time.perf_counter()
        folds, predictions, table = tr.run_walk_forward(data, cfg)
        wf = time.perf_counter() - t0
        t1 = time.perf_counter()
        tr.fit_final(data, cfg)
        final = time.perf_counter() - t1
        t2 = time.perf_counter()
        frame = tr.evaluation_frame(data, predictions, cfg)
        from training import evaluate as ev
        for s in ["score", *[c for c in predictions.columns if c.startswith("baseline_")]]:
            ev.evaluate(frame, score=s)
        for by in ("year", "liquidity", "board", "industry"):
            ev.evaluate_slices(frame, by)
        evaluation = time.perf_counter() - t2
        total = wf + final + evaluation
        totals.append(total)
        parts.append({"walk_forward": wf, "final": final, "evaluation": evaluation, **spent,
                      "median_best_iteration": float(table["best_iteration"].median()),
                      "median_fit_rows": float(table["fit_rows"].median()), "folds": len(folds)})
        print(f"run {k + 1}: {total:.1f}s (walk-forward {wf:.1f}s over {len(folds)} folds, final {final:.1f}s, "
              f"evaluation {evaluation:.1f}s; lightgbm fits {spent['lightgbm_fit']:.1f}s, baselines "
              f"{spent['single_factor_fit'] + spent['ridge_fit']:.1f}s)", flush=True)
    med = statistics.median(totals)
    mid = parts[totals.index(med)] if med in totals else parts[0]
    print(f"\ntraining step, median of {args.repeats}: {med:.1f}s (runs {', '.join(f'{t:.1f}' for t in totals)}); "
          f"target <= {TARGET_S:.0f}s: {'met' if med <= TARGET_S else 'NOT met'}")
    other = mid["walk_forward"] - mid["lightgbm_fit"] - mid["single_factor_fit"] - mid["ridge_fit"]
    print(f"where the time goes (median run): lightgbm fits {mid['lightgbm_fit']:.1f}s "
          f"({mid['lightgbm_fit'] / mid['folds']:.2f}s per fold, median {mid['median_best_iteration']:.0f} rounds "
          f"kept, median {mid['median_fit_rows']:.0f} fit rows), baselines "
          f"{mid['single_factor_fit'] + mid['ridge_fit']:.1f}s, row selection + scoring {other:.1f}s, "
          f"final model {mid['final']:.1f}s, evaluation {mid['evaluation']:.1f}s")


if __name__ == "__main__":
    main()
