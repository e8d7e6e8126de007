"""Benchmark: the monthly feature panel of a market too big for one process, on a Dask LocalCluster.

The market: ``--blocks`` simulated markets of ``--stocks`` x ``--years`` (default 8 x 4,000 x 10
years, about 66M stock-days), each simulated in its own process with its own seed and the same
start date (so the calendars line up), its symbols prefixed ``bNNN.`` (unique across blocks,
each block contiguous in symbol order) and written partitioned by symbol
(:mod:`market.partitioned`, ``--parts-per-block`` parts each) into one directory, atomically;
no process ever holds more than one block. Written once into ``--dir`` (default
/tmp/spotlight-bench-dask/market, outside the repository) and reused while its parameters
(``bench.json``) match. The panel includes the labels (``--no-labels``: features only).

Steps (subcommands; no subcommand or ``all``: every step, then a summary table):

* ``write``: the market above.
* ``single``: ``load_market`` + ``build_panel`` in a child process under a memory cap
  (``--cap`` GiB, default 20, so the 24 GB machine survives; ``--cap-by as``: RLIMIT_AS, the
  child gets a MemoryError; ``--cap-by rss``: the parent kills it when its resident memory
  passes the cap). The parent samples the child's RSS every 0.5 s and reports its peak and
  the step it reached (loading, or the build's own steps) or its time if it completes.
* ``cluster``: ``features.dask_panel.build_panel_dask`` on a
  ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True, memory_limit=...)`` for
  each N of ``--workers`` (default 1,2), each worker's RSS sampled every 0.5 s: stock-days,
  seconds, stock-days/s, peak RSS per worker, bytes spilled to disk, the shuffle's peak disk
  use, panel rows, and the speed ratio of the largest N to 1 worker. ``--market DIR`` runs it
  on any partitioned market.

A smoke run (seconds): ``--blocks 2 --stocks 300 --years 3 --parts-per-block 3``.

    .venv/bin/python benchmarks/dask.py [all|write|single|cluster] [--blocks 8] [--stocks 4000]
        [--years 10] [--parts-per-block 8] [--jobs 2] [--cap 20] [--cap-by as|rss]
        [--workers 1,2] [--memory-limit 6GiB] [--dir /tmp/spotlight-bench-dask] [--market DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This script shares its name with the ``dask`` package: import the package, not itself.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GIB = 1024 ** 3
DEFAULT_DIR = Path("/tmp/spotlight-bench-dask")
START = "2015-01-01"
TARGET_STOCK_DAYS = 60_000_000
FORMAT = 1  # bumped when the written market's layout changes (a stale one is rewritten)
HEARTBEAT_S = 30.0


def say(line: str) -> None:
    """One progress line, flushed at once."""
    print(line, flush=True)


def gib(n: float) -> str:
    """Bytes as GiB, two decimals."""
    return f"{n / GIB:.2f} GiB"


# --- write: the large market, block by block -----------------------------------------------------

def _write_block(k: int, stocks: int, years: int, seed: int, parts: int, staging: str) -> dict[str, Any]:
    """Simulate block ``k`` (seed ``seed + k``), prefix its symbols with ``bNNN.`` and write it
    partitioned into ``staging/block-NNN`` (runs in a fresh process)."""
    from market.load import market_from_tables
    from market.partitioned import write_partitioned
    from market.simulate import SimulationConfig, simulate_market

    t0 = time.perf_counter()
    sim = simulate_market(SimulationConfig(n_stocks=stocks, years=years, seed=seed + k, start=START))
    tables = sim.tables
    del sim  # the ground truth is not needed
    t1 = time.perf_counter()
    prefix = f"b{k:03d}."
    for table in tables.values():
        table["symbol"] = prefix + table["symbol"].astype("str")
    market = market_from_tables(tables, source=f"block {k}")
    del tables
    write_partitioned(market, Path(staging) / f"block-{k:03d}", parts)
    out = {"block": k, "stock_days": len(market.bars), "symbols": len(market.securities),
           "simulate_s": t1 - t0, "write_s": time.perf_counter() - t1}
    say(f"  block {k}: {out['symbols']:,} symbols, {out['stock_days']:,} stock-days; simulated in "
        f"{out['simulate_s']:.0f} s, validated and written in {out['write_s']:.0f} s")
    return out


def write_market(out: Path, blocks: int, stocks: int, years: int, seed: int, parts_per_block: int,
                 jobs: int) -> dict[str, Any]:
    """The large partitioned market at ``out`` (reused if ``bench.json`` there holds the same
    parameters); returns its parameters, stock-days and timings."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    import pandas as pd

    from market.atomic import atomic_path
    from market.partitioned import PARTITIONED

    params = {"format": FORMAT, "blocks": blocks, "stocks": stocks, "years": years, "seed": seed, "start": START,
              "parts_per_block": parts_per_block}
    meta_path = out / "bench.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("params") == params:
            say(f"write: reusing {out} ({meta['stock_days']:,} stock-days, {meta['parts']} parts, "
                f"{gib(meta['bytes'])} on disk)")
            return {**meta, "reused": True}
        say(f"write: {out} holds other parameters ({meta.get('params')}): writing it again")
    say(f"write: {blocks} blocks of {stocks:,} stocks x {years} years, {parts_per_block} parts each, "
        f"{jobs} at a time, into {out}")
    t0 = time.perf_counter()
    with atomic_path(out, directory=True) as tmp:
        staging = tmp / ".blocks"
        staging.mkdir()
        done: list[dict[str, Any]] = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
            futures = [pool.submit(_write_block, k, stocks, years, seed, parts_per_block, str(staging))
                       for k in range(blocks)]
            for future in as_completed(futures):
                done.append(future.result())
                say(f"write: {len(done)}/{blocks} blocks done ({time.perf_counter() - t0:.0f} s)")
        for table in PARTITIONED:
            (tmp / table).mkdir()
        number = 0
        securities = []
        for k in range(blocks):
            block = staging / f"block-{k:03d}"
            securities.append(pd.read_parquet(block / "securities.parquet"))
            for part in sorted(p.name for p in (block / "daily_bars").glob("part-*.parquet")):
                name = f"part-{number:05d}.parquet"  # blocks in order: parts stay in symbol order
                for table in PARTITIONED:
                    if (block / table / part).exists():
                        os.replace(block / table / part, tmp / table / name)
                number += 1
        pd.concat(securities, ignore_index=True).sort_values("symbol", kind="stable").to_parquet(
            tmp / "securities.parquet", index=False)
        shutil.rmtree(staging)
        stock_days = sum(d["stock_days"] for d in done)
        meta = {"params": params, "stock_days": stock_days, "symbols": sum(d["symbols"] for d in done),
                "parts": number, "bytes": sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()),
                "seconds": time.perf_counter() - t0, "blocks": sorted(done, key=lambda d: d["block"])}
        (tmp / "bench.json").write_text(json.dumps(meta, indent=2) + "\n")
    say(f"write: {meta['symbols']:,} symbols, {stock_days:,} stock-days in {number} parts, {gib(meta['bytes'])} "
        f"on disk, {meta['seconds']:.0f} s")
    if stock_days < TARGET_STOCK_DAYS:
        say(f"write: note: {stock_days:,} stock-days is under the benchmark's {TARGET_STOCK_DAYS:,} "
            "(a smoke run, or raise --blocks/--stocks)")
    return {**meta, "reused": False}


def stock_days_of(market_dir: Path) -> int:
    """Bars of a partitioned market, from the Parquet footers only."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in (market_dir / "daily_bars").glob("part-*.parquet"))


# --- memory sampling -------------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Samples every ``interval`` s the RSS of the processes ``pids()`` names (and the size of
    ``disk_dir`` every 4th sample), keeping each one's peak; prints a heartbeat line every
    ``HEARTBEAT_S`` s with ``status()``."""

    def __init__(self, pids: Callable[[], dict[int, str]], status: Callable[[], str], *,
                 interval: float = 0.5, disk_dir: Path | None = None) -> None:
        super().__init__(daemon=True)
        self.pids, self.status, self.interval, self.disk_dir = pids, status, interval, disk_dir
        self.peak_rss: dict[int, int] = {}
        self.peak_vms: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.now_rss: dict[int, int] = {}
        self.peak_disk = 0
        self._halt = threading.Event()
        self._t0 = time.perf_counter()

    def sample(self) -> None:
        """One sample of every process's memory."""
        import psutil

        now: dict[int, int] = {}
        for pid, name in self.pids().items():
            try:
                mem = psutil.Process(pid).memory_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            self.names.setdefault(pid, name)
            now[pid] = mem.rss
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), mem.rss)
            self.peak_vms[pid] = max(self.peak_vms.get(pid, 0), mem.vms)
        self.now_rss = now

    def run(self) -> None:
        """Sample until stopped."""
        n, beat = 0, self._t0
        while not self._halt.is_set():
            self.sample()
            if self.disk_dir is not None and n % 4 == 0:
                self.peak_disk = max(self.peak_disk, _dir_bytes(self.disk_dir))
            n += 1
            if time.perf_counter() - beat >= HEARTBEAT_S:
                beat = time.perf_counter()
                rss = ", ".join(f"{self.names.get(p, p)} {gib(r)}" for p, r in sorted(self.now_rss.items()))
                say(f"    ... {beat - self._t0:.0f} s: {self.status()}; RSS now: {rss or '-'}")
            self._halt.wait(self.interval)

    def stop(self) -> None:
        """Stop sampling (one last sample)."""
        self._halt.set()
        self.join()
        self.sample()


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


# --- single: one process, under a cap --------------------------------------------------------------

def _emit(event: str, **fields: Any) -> None:
    try:
        os.write(1, (json.dumps({"event": event, "t": time.time(), **fields}) + "\n").encode())
    except Exception:  # noqa: BLE001 - out of memory while reporting: the parent still knows the step
        pass


def single_child(market_dir: str, labels: bool, cap_bytes: int, cap_by: str) -> None:
    """The single-process build, in the child: set the cap, load, build, report each step as a
    JSON line on stdout; a MemoryError is reported with its step (exit 3)."""
    import resource

    from features.panel import build_panel
    from market.contract import TABLES
    from market.load import load_market
    from market.reader import read_table_at
    from training.labels import LABELS

    # The cap comes after the imports and a first read of a table directory as load_market reads
    # it (which starts Arrow's thread pools): RLIMIT_AS counts address space, and a thread started
    # under it aborts the process instead of raising MemoryError.
    small = next((t for t in ("fundamentals", "holders") if (Path(market_dir) / t).is_dir()), "securities")
    read_table_at(Path(market_dir) / (small if small != "securities" else "securities.parquet"), TABLES[small])
    if cap_by == "as" and cap_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    step = "start"
    try:
        step = "load_market"
        _emit("step", name=step)
        t0 = time.perf_counter()
        market = load_market(market_dir)
        _emit("loaded", stock_days=len(market.bars), seconds=time.perf_counter() - t0)
        t1 = time.perf_counter()

        def progress(name: str) -> None:
            nonlocal step
            step = f"build_panel: {name}"
            _emit("step", name=step)

        step = "build_panel"
        _emit("step", name=step)
        panel = build_panel(market, extra=LABELS if labels else None, progress=progress)
        _emit("done", rows=len(panel), stock_days=len(market.bars), load_s=t1 - t0,
              build_s=time.perf_counter() - t1)
    except MemoryError as e:
        _emit("memoryerror", step=step, error=f"{type(e).__name__}: {str(e)[:200]}")
        os._exit(3)


def run_single(market_dir: Path, labels: bool, cap_gib: float, cap_by: str, log_dir: Path) -> dict[str, Any]:
    """The single-process build in a child under the cap, its RSS sampled; what it reached."""
    cap = int(cap_gib * GIB)
    stock_days = stock_days_of(market_dir)
    say(f"single: load_market + build_panel of {market_dir} ({stock_days:,} stock-days) in one process, "
        f"capped at {cap_gib:g} GiB ({'RLIMIT_AS' if cap_by == 'as' else 'RSS, killed above'})")
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / "single.stderr"
    state: dict[str, Any] = {"step": "start", "events": [], "said": 0.0}
    t0 = time.perf_counter()
    with open(stderr_path, "w") as err:
        child = subprocess.Popen([sys.executable, __file__, "single-child", "--market", str(market_dir),
                                  "--cap", str(cap_gib), "--cap-by", cap_by, *([] if labels else ["--no-labels"])],
                                 stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)

        def read() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                state["events"].append(event)
                if event["event"] == "step":  # the build's steps (one per feature): a line at most every 5 s
                    state["step"] = event["name"]
                    if not event["name"].startswith("build_panel: ") or time.perf_counter() - state["said"] > 5:
                        state["said"] = time.perf_counter()
                        say(f"  single: {time.perf_counter() - t0:6.1f} s  {event['name']}")
                elif event["event"] == "loaded":
                    say(f"  single: loaded {event['stock_days']:,} stock-days in {event['seconds']:.1f} s")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sampler = Sampler(lambda: {child.pid: "single"}, lambda: f"single at {state['step']}")
        sampler.start()
        killed_at_cap = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if cap_by == "rss" and sampler.now_rss.get(child.pid, 0) > cap:
                killed_at_cap = True
                say(f"  single: RSS {gib(sampler.now_rss[child.pid])} passed the cap at {state['step']}: killing it")
                os.kill(child.pid, signal.SIGKILL)
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
        sampler.stop()
        child.returncode = os.waitstatus_to_exitcode(status)
        reader.join(timeout=5)
    peak = max(usage.ru_maxrss * 1024, sampler.peak_rss.get(child.pid, 0))
    peak_vms = sampler.peak_vms.get(child.pid, 0)
    events = {e["event"]: e for e in state["events"]}
    out: dict[str, Any] = {"stock_days": stock_days, "seconds": seconds, "peak_rss": peak, "peak_vms": peak_vms,
                           "cap_gib": cap_gib, "cap_by": cap_by, "last_step": state["step"], "rows": None}
    if "done" in events:
        d = events["done"]
        out.update(result="completed", rows=d["rows"], load_s=d["load_s"], build_s=d["build_s"])
        say(f"single: completed: load {d['load_s']:.1f} s, build {d['build_s']:.1f} s, {d['rows']:,} panel rows, "
            f"{stock_days / (d['load_s'] + d['build_s']):,.0f} stock-days/s, peak RSS {gib(peak)}")
        return out
    if "memoryerror" in events:
        m = events["memoryerror"]
        out.update(result=f"MemoryError in {m['step']}", error=m["error"])
    elif killed_at_cap:
        out.update(result=f"killed at the RSS cap in {state['step']}")
    elif child.returncode < 0:
        out.update(result=f"died by {signal.Signals(-child.returncode).name} in {state['step']}")
    else:
        out.update(result=f"exit {child.returncode} in {state['step']}")
    if "loaded" in events:
        out["load_s"] = events["loaded"]["seconds"]
    tail = stderr_path.read_text().strip().splitlines()[-8:]
    say(f"single: FAILED after {seconds:.1f} s: {out['result']} ({out.get('error', 'no MemoryError reported')}); "
        f"peak RSS {gib(peak)}, peak virtual {gib(peak_vms)}")
    if tail and "memoryerror" not in events:
        say("  its stderr ends:\n    " + "\n    ".join(tail))
    return out


# --- cluster: build_panel_dask on a LocalCluster -------------------------------------------------------

def _worker_io(dask_worker: Any) -> dict[str, float]:
    """Bytes this worker spilled to disk and read back (its SpillBuffer's counters)."""
    metrics = getattr(dask_worker.data, "cumulative_metrics", {})
    return {"spilled": float(metrics.get(("disk-write", "bytes"), 0.0)),
            "unspilled": float(metrics.get(("disk-read", "bytes"), 0.0))}


def run_cluster(market_dir: Path, n_workers: int, memory_limit: str, labels: bool, date_partitions: int | None,
                local_dir: Path) -> dict[str, Any]:
    """``build_panel_dask`` on a fresh LocalCluster of ``n_workers`` processes; time, memory, rows."""
    import psutil
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    from features.dask_panel import build_panel_dask
    from training.labels import CROSS_SECTIONS, LABELS

    # P2P shuffles log their start and end at WARNING from the scheduler (in this process)
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    stock_days = stock_days_of(market_dir)
    say(f"cluster: {n_workers} worker{'s' if n_workers > 1 else ''} x 1 thread, memory_limit {memory_limit} each, "
        f"{stock_days:,} stock-days ({market_dir})")
    shutil.rmtree(local_dir, ignore_errors=True)
    local_dir.mkdir(parents=True)
    out: dict[str, Any] = {"workers": n_workers, "stock_days": stock_days, "memory_limit": memory_limit,
                           "memory_limit_bytes": parse_bytes(memory_limit)}
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None, local_directory=str(local_dir)) as cluster, Client(cluster) as client:
        first = {pid: f"w{i}" for i, pid in enumerate(sorted(client.run(os.getpid).values()))}
        me = psutil.Process()

        def pids() -> dict[int, str]:  # the workers, any that replace them, and this process (the client)
            found = {p.pid: first.get(p.pid, f"new-{p.pid}") for p in me.children(recursive=True)}
            return {**found, me.pid: "client"}

        state = {"step": "start"}
        sampler = Sampler(pids, lambda: f"{n_workers}w at {state['step']}", disk_dir=local_dir)
        t0 = time.perf_counter()

        def progress(name: str) -> None:
            state["step"] = name
            say(f"  cluster {n_workers}w: {time.perf_counter() - t0:6.1f} s  {name}")

        sampler.start()
        try:
            panel = build_panel_dask(market_dir, extra=LABELS if labels else None,
                                     cross_sections=CROSS_SECTIONS if labels else (),
                                     date_partitions=date_partitions, progress=progress)
            out.update(result="completed", rows=len(panel))
            del panel
        except Exception as e:  # noqa: BLE001 - a killed worker or a memory failure is the result
            out.update(result=f"{type(e).__name__} in {state['step']}", error=str(e)[:300], rows=None)
        seconds = time.perf_counter() - t0
        sampler.stop()
        try:
            io = client.run(_worker_io)
            now = set(client.run(os.getpid).values())
        except Exception:  # noqa: BLE001
            io, now = {}, set()
    workers = {pid: peak for pid, peak in sampler.peak_rss.items() if sampler.names.get(pid) != "client"
               and (pid in first or peak > 256 * 1024 ** 2)}
    out.update(seconds=seconds, stock_days_per_s=stock_days / seconds if out["result"] == "completed" else None,
               peak_rss_per_worker={sampler.names[p]: r for p, r in sorted(workers.items(), key=lambda x: x[0])},
               peak_rss_client=sampler.peak_rss.get(os.getpid(), 0),
               spilled=sum(v["spilled"] for v in io.values()), unspilled=sum(v["unspilled"] for v in io.values()),
               peak_local_dir=sampler.peak_disk, restarted=len(set(first) - now) if now else None,
               step=state["step"])
    per = ", ".join(f"{k} {gib(v)}" for k, v in out["peak_rss_per_worker"].items())
    if out["result"] == "completed":
        say(f"cluster {n_workers}w: {seconds:.1f} s, {out['stock_days_per_s']:,.0f} stock-days/s, {out['rows']:,} "
            f"panel rows; peak RSS per worker: {per}; client {gib(out['peak_rss_client'])}; spilled "
            f"{gib(out['spilled'])}; worker dirs peak {gib(out['peak_local_dir'])}; restarted workers: "
            f"{out['restarted']}")
    else:
        say(f"cluster {n_workers}w: FAILED after {seconds:.1f} s: {out['result']}: {out.get('error')}; peak RSS per "
            f"worker: {per}")
    shutil.rmtree(local_dir, ignore_errors=True)
    return out


# --- summary ---------------------------------------------------------------------------------------

def summary(results: dict[str, Any]) -> str:
    """The results as a Markdown table, with the speed ratio of the cluster runs."""
    rows = ["| run | workers | stock-days | seconds | stock-days/s | peak RSS per process | spilled | panel rows "
            "| result |", "|---|---:|---:|---:|---:|---|---:|---:|---|"]
    single = results.get("single")
    if single:
        done = single["result"] == "completed"
        seconds = single["load_s"] + single["build_s"] if done else single["seconds"]  # load + build, or to the failure
        sps = f"{single['stock_days'] / seconds:,.0f}" if done else "-"
        rows.append(f"| single process (cap {single['cap_gib']:g} GiB {single['cap_by'].upper()}) | 1 | "
                    f"{single['stock_days']:,} | {seconds:.1f} | {sps} | {gib(single['peak_rss'])} | - | "
                    f"{single['rows'] or 0:,} | {single['result']} |")
    clusters = results.get("cluster", [])
    for c in clusters:
        per = ", ".join(gib(v) for v in c["peak_rss_per_worker"].values())
        sps = f"{c['stock_days_per_s']:,.0f}" if c["stock_days_per_s"] else "-"
        rows.append(f"| LocalCluster, {c['memory_limit']} per worker | {c['workers']} | {c['stock_days']:,} | "
                    f"{c['seconds']:.1f} | {sps} | {per} (client {gib(c['peak_rss_client'])}) | {gib(c['spilled'])} | "
                    f"{c['rows'] or 0:,} | {c['result']} |")
    text = "\n".join(rows)
    done = {c["workers"]: c for c in clusters if c["result"] == "completed"}
    if 1 in done and max(done) > 1:
        n = max(done)
        text += (f"\n\n{n} workers vs 1 on the same market: {done[1]['seconds'] / done[n]['seconds']:.2f}x the speed "
                 f"({done[n]['stock_days_per_s']:,.0f} vs {done[1]['stock_days_per_s']:,.0f} stock-days/s)")
    return text


def main() -> None:
    """Parse the command line and run the steps asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="all", choices=["all", "write", "single", "cluster",
                                                                      "single-child"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="working directory (market, logs, results)")
    parser.add_argument("--market", type=Path, help="a partitioned market for single/cluster (default: DIR/market)")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--stocks", type=int, default=4000, help="stocks per block")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="block k is simulated with seed + k")
    parser.add_argument("--parts-per-block", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2, help="blocks simulated at once (each its own process)")
    parser.add_argument("--cap", type=float, default=20.0, help="single: the memory cap in GiB")
    parser.add_argument("--cap-by", choices=["as", "rss"], default="as",
                        help="single: RLIMIT_AS on the child (MemoryError) or kill it when its RSS passes the cap")
    parser.add_argument("--workers", default="1,2", help="cluster: worker counts to run, in order")
    parser.add_argument("--memory-limit", default="6GiB", help="cluster: each worker's memory_limit")
    parser.add_argument("--date-partitions", type=int, help="cluster: step 2's partitions (default: as many as parts)")
    parser.add_argument("--no-labels", dest="labels", action="store_false", help="features only, no labels")
    args = parser.parse_args()
    market = args.market or args.dir / "market"
    if args.command == "single-child":
        single_child(str(market), args.labels, int(args.cap * GIB), args.cap_by)
        return

    results: dict[str, Any] = {"command": args.command, "market": str(market)}
    t0 = time.perf_counter()
    if args.command == "write" and args.market:
        parser.error("--market names an existing market; write builds DIR/market")
    if args.command == "write" or (args.command == "all" and not args.market):
        results["write"] = write_market(market, args.blocks, args.stocks, args.years, args.seed, args.parts_per_block,
                                        args.jobs)
    if args.command in ("all", "single"):
        results["single"] = run_single(market, args.labels, args.cap, args.cap_by, args.dir / "logs")
    if args.command in ("all", "cluster"):
        results["cluster"] = [run_cluster(market, int(n), args.memory_limit, args.labels, args.date_partitions,
                                          args.dir / "dask-worker-space") for n in args.workers.split(",")]
    if args.command == "write":
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    say(f"\n{args.command}: {time.perf_counter() - t0:.0f} s in all; results in {path}\n")
    say(summary(results))


if __name__ == "__main__":
    main()
