"""Benchmark: LightGBM's thread count and OpenMP wait policy, quiet and under CPU contention.

Workload: every ``--every``-th walk-forward fold of the demo's model (default config: a
400-stock universe, 120 month-ends, early stopping on the validation RankIC) on a simulated
1,000-stock 10-year market, fitted with the project's own ``training.train._fit_gbm``. The
panel is built once; each measurement then runs in a fresh process, because libgomp reads
its settings when it loads. Settings (``--settings``, ``THREADS:POLICY``): one thread (what
``num_threads = 0`` gives on 2 cores); two threads with libgomp's default wait (spin 300,000
times, then sleep: the old default), ``PASSIVE`` (sleep at once) and ``spin1000``
(``GOMP_SPINCOUNT=1000``, what every ``spotlight`` command sets). Conditions: quiet, then
under contention (``--burners`` processes spinning on the CPU, started and stopped here).
Each setting is measured ``--repeats`` times, settings interleaved, and the median fit time
is printed with ratios: slowdown = contended / quiet of the same setting, and each setting /
the best setting of that condition. About 5-7 minutes on 2 cores.

    .venv/bin/python benchmarks/threads.py [--repeats 3] [--every 24] [--burners 2] \
        [--settings 1:default,2:default,2:PASSIVE,2:spin1000]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
SETTINGS = "1:default,2:default,2:PASSIVE,2:spin1000"
BURN = "while True:\n    pass\n"


def fit_folds(data_path: str, threads: int, every: int) -> dict[str, float]:
    """Fit every ``every``-th fold's LightGBM model; seconds spent fitting and rounds kept."""
    import numpy as np
    import pandas as pd

    from spotlight.config import load_config
    from training import train as tr

    with open(data_path, "rb") as f:
        data = pickle.load(f)
    cfg = load_config().train
    cfg = cfg.model_copy(update={"lightgbm": cfg.lightgbm.model_copy(update={"num_threads": threads})})
    label = cfg.label_column
    labelled = tr._labelled_dates(data, label)
    dates = pd.DatetimeIndex(np.unique(data.panel.loc[data.members, "date"]))
    folds = [f for f in tr.splitter(cfg).folds(dates) if len(f.fit.intersection(labelled))][::every]
    rounds = 0
    t0 = time.perf_counter()
    for fold in folds:
        gbm = tr._fit_gbm(cfg, data, tr._rows(data, fold.fit, label), tr._rows(data, fold.valid, label))
        rounds += gbm.best_iteration_
    return {"seconds": time.perf_counter() - t0, "folds": len(folds), "rounds": rounds}


def measure(data_path: str, threads: int, policy: str, every: int) -> dict[str, float]:
    """One measurement in a fresh process: ``OMP_WAIT_POLICY`` = ``policy`` (unset for
    ``default``; ``spinN``: ``GOMP_SPINCOUNT=N`` instead)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if policy.startswith("spin"):
        env["GOMP_SPINCOUNT"] = policy.removeprefix("spin")
    elif policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, __file__, "--child", data_path, "--threads", str(threads),
                          "--every", str(every)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(stocks: int, years: int, path: Path) -> str:
    """The default config's training data on the simulated market, pickled to ``path``."""
    from benchmarks.features import simulated_market
    from market.load import load_market
    from spotlight.config import load_config
    from training import train as tr

    data = tr.prepare(load_market(simulated_market(stocks, years)), load_config().train)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return str(path)


Setting = tuple[int, str]


def run(data_path: str, settings: list[Setting], repeats: int, every: int, burners: int
        ) -> dict[str, dict[Setting, list[float]]]:
    """Seconds per setting and condition (``quiet``, ``contended``), ``repeats`` each."""
    times: dict[str, dict[Setting, list[float]]] = {}
    for condition in ("quiet", "contended"):
        procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(burners if condition == "contended"
                                                                                else 0)]
        try:
            times[condition] = {s: [] for s in settings}
            for r in range(repeats):
                for threads, policy in settings:
                    got = measure(data_path, threads, policy, every)
                    times[condition][(threads, policy)].append(got["seconds"])
                    print(f"{condition:9s} repeat {r + 1}: threads {threads}, {policy:7s} {got['seconds']:6.1f}s "
                          f"({got['folds']} folds, {got['rounds']} rounds kept)", flush=True)
        finally:
            for p in procs:
                p.kill()
                p.wait()
    return times


def table(times: dict[str, dict[Setting, list[float]]]) -> str:
    """Medians and ratios, one row per setting (Markdown)."""
    med = {c: {s: statistics.median(v) for s, v in t.items()} for c, t in times.items()}
    best = {c: min(m.values()) for c, m in med.items()}
    rows = ["| threads | wait policy | quiet s | contended s | slowdown | quiet / best | contended / best |",
            "|---:|---|---:|---:|---:|---:|---:|"]
    for s in times["quiet"]:
        q, c = med["quiet"][s], med["contended"][s]
        rows.append(f"| {s[0]} | {s[1]} | {q:.1f} | {c:.1f} | {c / q:.2f} | {q / best['quiet']:.2f} | "
                    f"{c / best['contended']:.2f} |")
    return "\n".join(rows)


def main() -> None:
    """Prepare the data, measure every setting in both conditions, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, default=24, help="fit every n-th walk-forward fold")
    parser.add_argument("--burners", type=int, default=2, help="CPU-spinning processes for the contended runs")
    parser.add_argument("--settings", default=SETTINGS, help="THREADS:POLICY,... (POLICY: default, PASSIVE, "
                                                               "ACTIVE or spinN)")
    parser.add_argument("--stocks", type=int, default=1000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fit_folds(args.child, args.threads, args.every)))
        return

    started = time.perf_counter()
    print(f"cores available: {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_path = prepare(args.stocks, args.years, Path(tmp) / "data.pkl")
        settings = [(int(t), p) for t, p in (s.split(":") for s in args.settings.split(","))]
        times = run(data_path, settings, args.repeats, args.every, args.burners)
    print(f"\nLightGBM fit time of every {args.every}th walk-forward fold, median of {args.repeats} "
          f"(contended: {args.burners} CPU burners); total {time.perf_counter() - started:.0f}s\n")
    print(table(times))


if __name__ == "__main__":
    main()
