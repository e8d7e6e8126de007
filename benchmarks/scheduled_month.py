"""Benchmark: scheduled months of daily operations, end to end, on the built-in market.

Issue 16's "done when": a scheduled month runs end to end (daily refresh, one monthly
retrain, monitor figures appearing after the horizon, an alert raised on a market simulated
with ``--signal 0``). This drives the real jobs day by day, each its own ``spotlight`` process
as ``spotlight schedule`` runs them (no wall-clock cron: the days are replayed back to back).

For each market (``--signals``, default ``1,0``: the built-in market, then the same seed with
``--signal 0``, where nothing is predictable), in ``<out>/signal-<s>/``:

1. ``spotlight simulate`` (reused when its simulation.json has the same settings).
2. For each trading day d of the market's last ``--months`` calendar months, the data feed
   rewrites ``data/`` in place with the market as known at d's close
   (:meth:`market.load.Market.until`: bars after d, fundamentals and holders announced after d
   removed, delistings after d unknown), then the jobs due that day run on it, against one
   serving root (``bundles/``) and one MLflow store (``mlruns/``), both fresh:

   - first trading day of a month: ``spotlight retrain`` (the first promotes, as there is no
     champion; later ones as the gate decides: 0 promoted, 4 kept);
   - second trading day of a month: ``spotlight retrain`` again, which must do nothing
     (exit 4, ``same_month``: it only adds a day inside the month just decided on);
   - every trading day: ``spotlight refresh`` (0 refreshed; 4 when the day's retrain already
     published this data) and then ``spotlight monitor`` (0 no alert, 5 alert), whose
     ``bundles/monitor.json`` is read: the realised figures that have appeared, drift, the
     alert state and its reasons.
3. Once at the end: ``spotlight schedule --run-now --max-runs 2`` with a monthly retrain and a
   weekday refresh cron: the scheduler itself runs both once on the unchanged data (each
   exits 4) and stops.

Measured and printed: each job's exit code, decision and wall seconds (the job's own step
times are in the CSV); the median daily refresh and monitor, each retrain; every served date
whose realised RankIC and top-N excess return appeared, the day it first appeared and its
figures; the alert state each day with its reasons split by rule (realised RankIC below the
floor for ``[monitor].months`` matured dates, feature drift, crowding); and, on the final
realised figures, what the RankIC rule alone says for k = 1..3 matured dates (the run itself
uses the config's k; pass ``--config`` with a ``[monitor]`` table to run under another rule).
A job exiting with an unexpected code is flagged and makes the script exit 1.

Written to ``--out``: ``days.csv`` (one row per job run), ``summary.json``, and each job's
output under ``signal-<s>/logs/``. About 20 minutes per market on 2 cores at the defaults
(600 stocks, 6 years, the last 2 months: 44 trading days of a refresh and a monitor, ~25 s a
day, nearly half of it outside the jobs' own steps: process start, imports, MLflow; plus two retrains
of ~50 s).

    .venv/bin/python benchmarks/scheduled_month.py [--stocks 600] [--years 6] [--months 2] \
        [--signals 1,0] [--seed 0] [--config FILE] [--out bench-out/scheduled-month] [--days N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
SPOTLIGHT = str(Path(sys.executable).with_name("spotlight"))
RETRAIN_CRON, REFRESH_CRON = "0 19 1 * *", "0 18 * * 1-5"
RULES = {"rank_ic": "realised RankIC", "drift": "drift", "crowded": "crowded", "other": "other"}


@dataclass
class Run:
    """One job run on one day."""

    signal: float
    day: str
    job: str
    code: int
    expected: bool
    decision: str
    wall_s: float
    steps: str = ""
    realised: int = 0           # monitor: served dates with realised figures in the report
    appeared: str = ""          # monitor: those that appeared today, with their figures
    psi_max: str = ""           # monitor: the most drifted feature
    alert: str = ""             # monitor: ok / alert
    rules: str = ""             # monitor: the rules that fired (rank_ic, drift, crowded)
    reasons: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def rule_of(reason: str) -> str:
    """Which alert rule a reason of :func:`monitoring.alerts.alert` comes from."""
    if reason.startswith("realised RankIC"):
        return "rank_ic"
    if "drift above PSI" in reason:  # "feature drift ..." or "model-input drift ..."
        return "drift"
    return "crowded" if "crowded" in reason else "other"


def simulate(work: Path, stocks: int, years: int, seed: int, signal: float) -> float:
    """``spotlight simulate`` into ``work/market-full`` unless it is there already; its seconds."""
    full = work / "market-full"
    meta = full / "simulation.json"
    known = json.loads(meta.read_text()).get("config", {}) if meta.is_file() else {}
    wanted = {"n_stocks": stocks, "years": years, "seed": seed, "signal": signal}
    if all(known.get(k) == v for k, v in wanted.items()):
        print(f"market reused: {full}", flush=True)
        return 0.0
    t0 = time.perf_counter()
    subprocess.run([SPOTLIGHT, "simulate", "--out", str(full), "--stocks", str(stocks), "--years", str(years),
                    "--seed", str(seed), "--signal", str(signal)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


class Operator:
    """Runs the ``spotlight`` jobs of one market as a scheduler would and records each run."""

    def __init__(self, work: Path, signal: float, config: Path | None) -> None:
        self.work, self.signal = work, signal
        self.root, self.data, self.logs = work / "bundles", work / "data", work / "logs"
        for stale in (self.root, self.data, self.logs, work / "mlruns"):
            shutil.rmtree(stale, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.env = os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlruns' / 'mlflow.db'}"}
        self.tail = ["--data", str(self.data), "--serve-root", str(self.root),
                     *(["--config", str(config.resolve())] if config else [])]
        self.runs: list[Run] = []
        self.first_seen: dict[str, str] = {}   # realised served date -> the day it first appeared

    def job(self, day: str, name: str, argv: list[str], expected: set[int], decisions: set[str] | None = None,
            timeout: int = 1800) -> Run:
        """Run ``spotlight argv`` in its own process (output to ``logs/<day>-<name>.log``) and record it:
        expected when it exits with one of ``expected`` and says one of ``decisions``."""
        t0 = time.perf_counter()
        done = subprocess.run([SPOTLIGHT, *argv], cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        wall = time.perf_counter() - t0
        (self.logs / f"{day}-{name}.log").write_text(
            f"$ spotlight {' '.join(argv)}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}--- exit "
            f"{done.returncode} in {wall:.1f} s\n", encoding="utf-8")
        lines = [line for line in done.stdout.splitlines() if re.match(r"^[a-z_]+: ", line)]
        last = lines[-1] if lines else (done.stderr.strip().splitlines() or [""])[-1]
        decision = last.split(":", 1)[0] if lines else f"exit {done.returncode}"
        steps = re.search(r"\[([^\]]*)\]$", last)
        ok = done.returncode in expected and (decisions is None or decision in decisions)
        run = Run(self.signal, day, name, done.returncode, ok, decision, round(wall, 2),
                  steps.group(1) if steps else "")
        if not ok:
            run.extra["output"] = last[:500]
        self.runs.append(run)
        return run

    def retrain(self, day: str, name: str, expected: set[int], decisions: set[str]) -> Run:
        """``spotlight retrain`` on today's data."""
        return self.job(day, name, ["retrain", *self.tail], expected, decisions)

    def refresh(self, day: str, expected: set[int]) -> Run:
        """``spotlight refresh`` on today's data."""
        return self.job(day, "refresh", ["refresh", *self.tail], expected, timeout=600)

    def monitor(self, day: str) -> Run:
        """``spotlight monitor`` on today's data, and what its report says."""
        run = self.job(day, "monitor", ["monitor", *self.tail], {0, 5}, timeout=600)
        try:
            report = json.loads((self.root / "monitor.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            run.expected, run.extra["output"] = False, f"no monitor.json: {exc}"
            return run
        new = []
        for row in report["realised"]:
            if row["date"] not in self.first_seen:
                self.first_seen[row["date"]] = day
                new.append(f"{row['date']} v{row['model_version']} RankIC {row['rank_ic']:+.3f} "
                           f"top-N {row['top_n_excess']:+.2%}")
        features = [f for f in report["drift"]["features"] if f["psi"] is not None]
        reasons = report["alert"]["reasons"]
        run.realised, run.appeared = len(report["realised"]), "; ".join(new)
        run.psi_max = f"{features[0]['feature']} {features[0]['psi']:.2f}" if features else ""
        run.alert, run.reasons = report["alert"]["state"], " | ".join(reasons)
        run.rules = ",".join(dict.fromkeys(rule_of(r) for r in reasons))
        run.extra["report"] = report
        return run

    def schedule(self, day: str) -> Run:
        """``spotlight schedule`` itself, once: both jobs run at start on unchanged data, then it stops."""
        run = self.job(day, "schedule", ["schedule", "--cron", RETRAIN_CRON, "--refresh-cron", REFRESH_CRON,
                                         "--run-now", "--max-runs", "2", *self.tail], {0}, timeout=900)
        text = (self.logs / f"{day}-schedule.log").read_text(encoding="utf-8")
        exits = dict(re.findall(r": (retrain|refresh) exited (\d+)", text))
        run.decision = ", ".join(f"{k} exited {v}" for k, v in exits.items()) or "no run reported"
        run.expected = run.code == 0 and exits == {"retrain": "4", "refresh": "4"}
        return run


def say(run: Run) -> None:
    """One run as a line (a monitor's: two)."""
    text = f"  {run.job:<15} exit {run.code} {run.decision:<16} {run.wall_s:6.1f} s"
    if run.job == "monitor":
        text += f"  realised {run.realised}, alert {run.alert}" + (f" ({run.rules})" if run.rules else "")
        text += f", psi max {run.psi_max}" if run.psi_max else ""
        text += f"\n{'':19}appeared: {run.appeared}" if run.appeared else ""
    if not run.expected:
        text += f"  <-- UNEXPECTED: {run.extra.get('output', '')}"
    print(text, flush=True)


def operate(work: Path, signal: float, args: argparse.Namespace) -> dict[str, Any]:
    """Simulate one market and run its scheduled months; the summary."""
    from market.load import load_market
    from market.write import write_market_tables
    from spotlight.config import load_config

    work.mkdir(parents=True, exist_ok=True)
    sim_s = simulate(work, args.stocks, args.years, args.seed, signal)
    full = load_market(work / "market-full")
    cal = full.calendar
    month = cal.to_period("M")
    days = cal[month > month[-1] - args.months][:args.days]
    firsts = {d for i, d in enumerate(days) if i == 0 or d.month != days[i - 1].month}
    seconds = {d for i, d in enumerate(days) if i > 0 and days[i - 1] in firsts and d.month == days[i - 1].month}
    print(f"\n== signal {signal:g}: {full.summary()}; {len(days)} trading days "
          f"{days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d}", flush=True)
    op = Operator(work, signal, args.config)
    feed_s: list[float] = []
    t_all = time.perf_counter()
    decided = False  # this month's retrain decided (promoted or kept the champion)
    for d in days:
        day = f"{d:%Y-%m-%d}"
        t0 = time.perf_counter()
        write_market_tables(full.until(d), op.data)  # the feed: the data as known at d's close, in place
        feed_s.append(time.perf_counter() - t0)
        print(f"{day}", flush=True)
        published_today = False
        if d in firsts:
            first = not any(r.job == "retrain" for r in op.runs)
            run = op.retrain(day, "retrain", {0} if first else {0, 4},
                             {"promoted"} if first else {"promoted", "kept_champion"})
            say(run)
            if first and run.code != 0:
                print("the first retrain did not promote: no champion, stopping this market", flush=True)
                break
            published_today, decided = run.code == 0, run.code in (0, 4)
        elif d in seconds and decided:
            say(op.retrain(day, "retrain-check", {4}, {"same_month"}))
        say(op.refresh(day, {4} if published_today else {0}))
        say(op.monitor(day))
    say(op.schedule(f"{days[-1]:%Y-%m-%d}"))
    total_s = time.perf_counter() - t_all

    rule = load_config(args.config).monitor
    last = next((r for r in reversed(op.runs) if r.job == "monitor" and "report" in r.extra), None)
    realised = last.extra["report"]["realised"] if last else []
    monitors = [r for r in op.runs if r.job == "monitor" and r.alert]
    by_rule = {k: sum(k in r.rules.split(",") for r in monitors) for k in RULES}
    first_rank_ic = next((r.day for r in monitors if "rank_ic" in r.rules.split(",")), None)

    import pandas as pd

    from monitoring.alerts import MonitorRule, alert

    frame = pd.DataFrame({"date": pd.to_datetime([r["date"] for r in realised]),
                          "rank_ic": [r["rank_ic"] if r["rank_ic"] is not None else float("nan") for r in realised]})
    no_drift = pd.DataFrame(columns=["feature", "psi"]).astype({"psi": "float64"})
    what_if = {}
    for k in sorted({1, 2, 3, rule.months}):
        state, reasons = alert(frame, no_drift, None, MonitorRule(**(rule.model_dump() | {"months": k})))
        what_if[k] = {"state": state, "reason": reasons[0] if reasons else ""}

    def med(job: str, codes: tuple[int, ...] = (0,)) -> float | None:
        walls = [r.wall_s for r in op.runs if r.job == job and r.code in codes]
        return round(statistics.median(walls), 2) if walls else None

    return {
        "signal": signal, "work": str(work), "stocks": args.stocks, "years": args.years, "seed": args.seed,
        "days": len(days), "first_day": f"{days[0]:%Y-%m-%d}", "last_day": f"{days[-1]:%Y-%m-%d}",
        "simulate_s": round(sim_s, 1), "total_s": round(total_s, 1),
        "feed_median_s": round(statistics.median(feed_s), 2),
        "refresh_median_s": med("refresh"), "refresh_max_s": max((r.wall_s for r in op.runs if r.job == "refresh"),
                                                                 default=None),
        "refresh_runs": sum(r.job == "refresh" for r in op.runs),
        "monitor_median_s": med("monitor", (0, 5)),
        "retrains": [{"day": r.day, "job": r.job, "code": r.code, "decision": r.decision, "wall_s": r.wall_s,
                      "steps": r.steps} for r in op.runs if r.job.startswith("retrain")],
        "schedule": {"code": op.runs[-1].code, "said": op.runs[-1].decision, "wall_s": op.runs[-1].wall_s},
        "realised": [r | {"first_seen": op.first_seen.get(r["date"])} for r in realised],
        "alert": {"final_state": last.alert if last else None, "final_reasons": last.reasons if last else None,
                  "days_in_alert": sum(r.alert == "alert" for r in monitors), "days_monitored": len(monitors),
                  "days_by_rule": by_rule, "first_day_rank_ic_rule": first_rank_ic,
                  "rule": rule.model_dump(), "rank_ic_rule_on_final_realised_by_k": what_if},
        "unexpected": [asdict(r) | {"extra": r.extra.get("output", "")} for r in op.runs if not r.expected],
        "runs": op.runs,
    }


def report(summary: dict[str, Any]) -> None:
    """One market's figures."""
    s, a = summary, summary["alert"]
    print(f"\n-- signal {s['signal']:g}: {s['days']} trading days {s['first_day']}..{s['last_day']} in "
          f"{s['total_s'] / 60:.1f} min (simulate {s['simulate_s']:.0f} s)")
    print(f"   daily refresh: median {s['refresh_median_s']} s (max {s['refresh_max_s']} s, {s['refresh_runs']} runs); "
          f"monitor median {s['monitor_median_s']} s; data feed median {s['feed_median_s']} s")
    for r in s["retrains"]:
        print(f"   {r['job']:<13} {r['day']}: exit {r['code']} {r['decision']} in {r['wall_s']:.1f} s [{r['steps']}]")
    print(f"   schedule --run-now --max-runs 2: exit {s['schedule']['code']} ({s['schedule']['said']}) "
          f"in {s['schedule']['wall_s']:.1f} s")
    print(f"   realised figures ({len(s['realised'])} served dates; a date served by two versions: the later):")
    print(f"     {'served date':<12} {'version':>7} {'RankIC':>7} {'top-N excess':>12} {'members':>7} "
          f"{'horizon end':<11}  first appeared")
    for r in s["realised"]:
        ic = "n/a" if r["rank_ic"] is None else f"{r['rank_ic']:+.3f}"
        print(f"     {r['date']:<12} {r['model_version']:>7} {ic:>7} {r['top_n_excess']:>+12.2%} "
              f"{r['members']:>7} {r['horizon_end']:<11}  {r['first_seen']}")
    rule = a["rule"]
    print(f"   alert ([monitor] rank_ic_floor {rule['rank_ic_floor']:+.2f}, months {rule['months']}, psi_limit "
          f"{rule['psi_limit']}): final state {a['final_state']}; {a['days_in_alert']}/{a['days_monitored']} days "
          f"in alert; days each rule fired: " + ", ".join(f"{RULES[k]} {v}" for k, v in a["days_by_rule"].items()))
    print(f"   final reasons: {a['final_reasons'] or '-'}")
    print("   the RankIC rule alone on the final realised figures, by k matured dates: "
          + "; ".join(f"k={k}: {v['state']}" for k, v in a["rank_ic_rule_on_final_realised_by_k"].items()))
    if s["unexpected"]:
        print("   UNEXPECTED exit codes: " + "; ".join(f"{u['day']} {u['job']} exit {u['code']} {u['decision']}"
                                                     for u in s["unexpected"]))


def main() -> None:
    """Every market in turn, then the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=600)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--months", type=int, default=2, help="calendar months of daily operations (the last ones)")
    parser.add_argument("--days", type=int, default=None, help="only the first DAYS trading days (a quick check)")
    parser.add_argument("--signals", default="1,0", help="comma-separated --signal of each market to run")
    parser.add_argument("--config", type=Path, default=None, help="TOML passed to every job (e.g. [monitor])")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "scheduled-month")
    args = parser.parse_args()
    args.out = args.out.resolve()

    import pandas as pd

    summaries = []
    for signal in (float(s) for s in args.signals.split(",")):
        summaries.append(operate(args.out / f"signal-{signal:g}", signal, args))
    runs = [asdict(r) | {"extra": ""} for s in summaries for r in s.pop("runs")]
    table = pd.DataFrame(runs).drop(columns=["extra"])
    table.to_csv(args.out / "days.csv", index=False)
    (args.out / "summary.json").write_text(json.dumps(summaries, indent=2, default=str), encoding="utf-8")
    for s in summaries:
        report(s)
    print(f"\n{'signal':>6} {'refresh med s':>13} {'monitor med s':>13} {'retrain s':>10} {'realised':>8} "
          f"{'mean RankIC':>11} {'final alert':>11}  rules that fired (days)")
    for s in summaries:
        ics = [r["rank_ic"] for r in s["realised"] if r["rank_ic"] is not None]
        trained = [r["wall_s"] for r in s["retrains"] if r["job"] == "retrain"]
        fired = ", ".join(f"{RULES[k]} {v}" for k, v in s["alert"]["days_by_rule"].items() if v) or "none"
        print(f"{s['signal']:>6g} {s['refresh_median_s']!s:>13} {s['monitor_median_s']!s:>13} "
              f"{'/'.join(f'{t:.0f}' for t in trained):>10} {len(s['realised']):>8} "
              f"{(statistics.mean(ics) if ics else float('nan')):>+11.3f} {s['alert']['final_state']!s:>11}  {fired}")
    print(f"\nwritten: {args.out / 'days.csv'}, {args.out / 'summary.json'}; job logs in {args.out}/signal-*/logs/")
    if any(s["unexpected"] for s in summaries):
        sys.exit(1)


if __name__ == "__main__":
    main()
