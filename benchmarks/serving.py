"""Benchmark: ONNX vs LightGBM scoring, and the ranking service over loopback HTTP.

Model and bundle: a simulated 2,000-stock, 8-year market (seed 0), the default training
config (universe of the 400 smallest) with yearly walk-forward refits, logged to a throwaway
MLflow store and exported with ``spotlight export`` -- all under bench-out/serving/, built
once and reused (``--rebuild`` rebuilds).

Measured in one run, each timing repeated and quoted as median (p50) and p99:
1. Scoring 5,000 rows (the bundle's member rows, tiled) single-threaded: onnxruntime
   (``intra_op_num_threads=1``) against native ``Booster.predict(num_threads=1)`` on the same
   rows, interleaved. Target: ONNX median <= 0.7 x LightGBM's.
2. ``POST /rank`` top_n 50 against ``spotlight serve`` (one BentoML worker) at concurrency 1
   and 16 (an aiohttp client in this process; the client shares the 2 cores). Targets at
   concurrency 16: p99 <= 50 ms and >= 300 requests/s. Three rounds at 16; each printed, the
   median of the rounds quoted.
3. ``POST /score`` with 1, 100 and 5,000 rows.

    .venv/bin/python benchmarks/serving.py [--rebuild] [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench-out" / "serving"
CONFIG = """
[walk_forward]
refit_every = 12
"""


def build(rebuild: bool) -> tuple[Path, str]:
    """(bundle directory, tracking URI), built once."""
    bundle, uri = OUT / "bundle", f"sqlite:///{OUT / 'mlruns' / 'mlflow.db'}"
    if bundle.is_dir() and not rebuild:
        return bundle, uri
    import shutil

    from market.fingerprint import fingerprint
    from market.load import load_market
    from market.simulate import SimulationConfig, simulate_market, write_market
    from release.export import export_bundle
    from spotlight.config import load_config
    from training.mlflow_run import log_training
    from training.train import train

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    t0 = time.perf_counter()
    market_dir = write_market(simulate_market(SimulationConfig(n_stocks=2000, years=8, seed=0)), OUT / "market")
    (OUT / "config.toml").write_text(CONFIG)
    market = load_market(market_dir)
    cfg = load_config(OUT / "config.toml")
    result = train(market, cfg.train)
    logged = log_training(result, fingerprint(market), experiment=cfg.experiment, model_name=cfg.registered_model,
                          uri=uri)
    export_bundle(bundle, tracking_uri=uri, model_name=logged.model_name, alias="candidate")
    print(f"built market, model and bundle in {time.perf_counter() - t0:.0f}s", flush=True)
    return bundle, uri


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def scoring(bundle_dir: Path, uri: str, rows: int = 5000, repeats: int = 60) -> dict[str, float]:
    import mlflow
    import numpy as np
    import pandas as pd

    from serving.bundle import Bundle
    from serving.scorer import OnnxScorer

    bundle = Bundle.load(bundle_dir)
    snap = pd.read_parquet(bundle_dir / "snapshot.parquet")
    members = snap.loc[snap["in_universe"], bundle.manifest.features].to_numpy(np.float32)
    X32 = np.resize(members, (rows, members.shape[1]))
    X64 = X32.astype(np.float64)
    mlflow.set_tracking_uri(uri)
    model = bundle.manifest.model
    booster = mlflow.lightgbm.load_model(f"models:/{model.name}/{model.version}")
    scorer = OnnxScorer((bundle_dir / "model.onnx").read_bytes(), threads=1)
    native_s, onnx_s = [], []
    for _ in range(5):
        booster.predict(X64, num_threads=1), scorer.score(X32)
    for _ in range(repeats):
        t = time.perf_counter()
        booster.predict(X64, num_threads=1)
        native_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        scorer.score(X32)
        onnx_s.append(time.perf_counter() - t)
    trees = booster.num_trees()
    return {"rows": rows, "trees": trees, "features": X32.shape[1],
            "lightgbm_p50_ms": 1e3 * statistics.median(native_s), "lightgbm_p99_ms": 1e3 * pct(native_s, 0.99),
            "onnx_p50_ms": 1e3 * statistics.median(onnx_s), "onnx_p99_ms": 1e3 * pct(onnx_s, 0.99),
            "ratio": statistics.median(onnx_s) / statistics.median(native_s)}


async def load(url: str, path: str, body: bytes, concurrency: int, n: int, warmup: int = 100) -> dict[str, float]:
    import aiohttp

    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for _ in range(warmup):
            async with session.post(path, data=body, headers=headers) as r:
                await r.read()

        async def worker() -> None:
            while len(latencies) < n:
                t = time.perf_counter()
                async with session.post(path, data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{path} answered {r.status}")
                latencies.append(time.perf_counter() - t)

        gc.disable()  # the client's own pauses are not the service's latency
        try:
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
    return {"p50_ms": 1e3 * statistics.median(latencies), "p99_ms": 1e3 * pct(latencies, 0.99),
            "rps": len(latencies) / elapsed, "requests": len(latencies)}


def serve(bundle_dir: Path) -> tuple[subprocess.Popen, str]:
    from tests.serving.test_serve_process import free_port, wait_ready

    port = free_port()
    log = OUT / "serve.log"
    env = os.environ | {"BENTOML_HOME": str(OUT / "bentoml"), "SPOTLIGHT_MAX_ROWS": "10000"}
    env.pop("SPOTLIGHT_API_TOKEN", None)
    with open(log, "wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("spotlight")), "serve", "--bundle",
                                    str(bundle_dir), "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, log)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    bundle_dir, uri = build(args.rebuild)

    s = scoring(bundle_dir, uri)
    print(f"scoring {s['rows']} rows x {s['features']} features, {s['trees']} trees, 1 thread: "
          f"LightGBM p50 {s['lightgbm_p50_ms']:.1f} ms (p99 {s['lightgbm_p99_ms']:.1f}), "
          f"ONNX p50 {s['onnx_p50_ms']:.1f} ms (p99 {s['onnx_p99_ms']:.1f}); "
          f"ONNX/LightGBM = {s['ratio']:.2f} (target <= 0.70: {'met' if s['ratio'] <= 0.7 else 'NOT met'})",
          flush=True)

    from tests.serving.test_serve_process import stop

    process, url = serve(bundle_dir)
    results: dict[str, object] = {"scoring": s}
    try:
        rank = json.dumps({"top_n": 50}).encode()
        one = asyncio.run(load(url, "/rank", rank, 1, args.requests // 4))
        print(f"/rank top 50, concurrency 1: p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms, "
              f"{one['rps']:.0f} requests/s", flush=True)
        rounds = []
        for i in range(3):
            r = asyncio.run(load(url, "/rank", rank, 16, args.requests))
            rounds.append(r)
            print(f"/rank top 50, concurrency 16, round {i + 1}: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                  f"{r['rps']:.0f} requests/s", flush=True)
        p99 = statistics.median(r["p99_ms"] for r in rounds)
        rps = statistics.median(r["rps"] for r in rounds)
        print(f"/rank concurrency 16, median of rounds: p99 {p99:.1f} ms (target <= 50: "
              f"{'met' if p99 <= 50 else 'NOT met'}), {rps:.0f} requests/s (target >= 300: "
              f"{'met' if rps >= 300 else 'NOT met'})", flush=True)
        results |= {"rank_c1": one, "rank_c16": rounds, "rank_c16_p99_ms": p99, "rank_c16_rps": rps}

        import pandas as pd

        from serving.bundle import Bundle

        features = Bundle.load(bundle_dir).manifest.features
        snap = pd.read_parquet(bundle_dir / "snapshot.parquet")
        members = snap.loc[snap["in_universe"], ["symbol", *features]].astype({f: "float64" for f in features})
        records = members.to_dict("records")
        for n, repeats in ((1, 300), (100, 200), (5000, 30)):
            body = json.dumps({"rows": (records * (n // len(records) + 1))[:n]}).encode()
            r = asyncio.run(load(url, "/score", body, 1, repeats, warmup=3))
            results[f"score_{n}"] = r
            print(f"/score {n} rows: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms", flush=True)
    finally:
        stop(process)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
