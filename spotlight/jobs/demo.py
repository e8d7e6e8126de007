"""The end-to-end demo behind ``make demo`` (``spotlight demo``), on the built-in market.

1. Simulate the market (reused when ``simulation.json`` shows the same settings) and hold the
   last month back: ``market`` is the market as known a month ago, ``market-full`` today's.
2. ``spotlight retrain`` on a month ago: features, walk-forward LightGBM with baselines in
   MLflow, the candidate registered, promoted (no champion yet), exported to ONNX through the
   parity gate and published into ``bundles/``.
3. Start the ranking service on ``bundles/`` and print the top 20 of ``POST /rank`` with their
   drivers and liquidity.
4. The daily refresh on ten more sessions: the same model version scored on the new days and
   swapped in, then the live monitor (``GET /monitor``: realised figures, drift, the alert),
   then ``POST /rebalance`` for a book of 100 m built on last month's ranking: today's target,
   the next session's orders, leavers with their reasons, what the limits hold back.
5. Retrain with the month that was held back, print the gate's decision, and, when promoted,
   show the running service swapping in the new bundle (``GET /model``) without a restart.
6. Stop the service; backtest the champion's out-of-sample predictions after costs, trading
   limits and the participation cap, with the capacity curve and the crowding panel, into
   ``backtest_report.html`` (also logged to MLflow, nested under the training run).
7. Print where to look: the MLflow UI, the service docs, the report.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from spotlight.exit_code import ExitCode

Say = Callable[[str], None]


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def _call(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def _market(out: Path, stocks: int, years: int, seed: int, say: Say) -> tuple[Path, Path, Path]:
    from market.load import load_market
    from market.simulate import SimulationConfig, simulate_market, write_market
    from market.write import write_market_tables

    full, earlier, mid = out / "market-full", out / "market", out / "market-mid"
    wanted = {"n_stocks": stocks, "years": years, "seed": seed}
    meta = full / "simulation.json"
    known = json.loads(meta.read_text()).get("config", {}) if meta.is_file() else {}
    if any(known.get(k) != v for k, v in wanted.items()):
        say(f"simulating {stocks} stocks x {years} years (seed {seed})")
        write_market(simulate_market(SimulationConfig(n_stocks=stocks, years=years, seed=seed)), full)
    market = load_market(full)
    cal = market.calendar
    month = cal.to_period("M")
    held_back = cal[month < month[-1]][-1]
    write_market_tables(market.until(held_back), earlier)
    some_days = cal[min(cal.get_loc(held_back) + 10, len(cal) - 1)]
    write_market_tables(market.until(some_days), mid)
    say(f"market today: {market.summary()}")
    say(f"market a month ago (held back after {held_back:%Y-%m-%d}): {earlier}")
    say(f"market ten sessions later ({some_days:%Y-%m-%d}), for the daily refresh: {mid}")
    return earlier, mid, full


def _retrain(data: Path, root: Path, cfg, say: Say):
    from rich.console import Console

    from spotlight.cli.tables import models_table
    from spotlight.jobs.retrain import retrain
    from tracking.store import tracking_uri

    outcome = retrain(data, root, cfg, tracking_uri(), say=lambda step: say(f"  retrain: {step}"))
    if outcome.summaries:
        Console(width=140).print(models_table(outcome.summaries,
                                              f"out of sample on {data.name}, {cfg.train.label_column}"))
    for key, value in outcome.figures.items():
        say(f"  {key}: {value:+.4f}")
    say(f"decision: {outcome.decision} -- {outcome.message}")
    return outcome


def _refresh(data: Path, root: Path, cfg, url: str, say: Say) -> bool:
    """Step 4: ``spotlight refresh`` on ten more sessions, the running service swapping the new
    bundle in, and what ``GET /monitor`` then says; False if the refresh failed."""
    from spotlight.jobs.refresh import refresh
    from tracking.store import tracking_uri

    before = _call(f"{url}/model")
    done = refresh(data, root, cfg, tracking_uri(), say=lambda step: say(f"  refresh: {step}"))
    spent = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in done.timings.items())
    say(f"refresh: {done.decision} -- {done.message} [{spent}]")
    if done.code != ExitCode.OK:
        return done.code == ExitCode.KEPT
    deadline = time.monotonic() + 60
    while _call(f"{url}/model")["bundle_id"] == before["bundle_id"] and time.monotonic() < deadline:
        time.sleep(0.5)
    model = _call(f"{url}/model")
    say(f"the running service serves version {model['model']['version']} (unchanged) on dates to "
        f"{model['dates'][-1]} (was {before['dates'][-1]}), bundle {model['bundle_id']}")
    report = _call(f"{url}/monitor")
    realised = report["realised"]
    say(f"GET /monitor: {len(realised)} served date(s) past their 21-day horizon"
        + (f", latest {realised[-1]['date']}: realised RankIC {realised[-1]['rank_ic']:+.3f}" if realised else "")
        + "; most drifted: " + ", ".join(f"{f['label']} (PSI {f['psi']}, level {f.get('psi_level')})" for f in report["drift"]["features"][:3]))
    say(f"alert: {report['alert']['state']}" + (f" -- {'; '.join(report['alert']['reasons'])}"
                                                 if report["alert"]["reasons"] else ""))
    _rebalance(url, say)
    return True


def _rebalance(url: str, say: Say) -> None:
    """Step 4, last: last month's top 100 bought with 100 m, rebalanced on today's ranking."""
    from collections import Counter

    dates = _call(f"{url}/model")["dates"]
    built = _call(f"{url}/rebalance", {"capital": 1e8, "as_of": dates[-2], "top_n": 100})
    holdings = [{"symbol": t["symbol"], "shares": t["shares"]} for t in built["target"]]
    cash = round(1e8 - sum(t["value"] for t in built["target"]), 2)
    body = _call(f"{url}/rebalance", {"capital": cash, "holdings": holdings, "top_n": 100})
    money, book, totals, orders = body["currency"] or "", body["book"], body["totals"], body["orders"]
    say(f"POST /rebalance: a book of {book['value'] / 1e6:.1f} m {money} holding {dates[-2]}'s top 100 "
        f"({len(holdings)} names), rebalanced on {body['as_of']}'s ranking (board lot {body['board_lot']}, "
        f"participation {body['participation']:.0%}):")
    sells = Counter(o["reason"] for o in orders if o["side"] == "sell")
    buys = Counter(o["reason"] for o in orders if o["side"] == "buy")
    say("  sells: " + (", ".join(f"{n} {r}" for r, n in sells.most_common()) or "none")
        + "; buys: " + (", ".join(f"{n} {r}" for r, n in buys.most_common()) or "none"))
    blocked = Counter(o["blocked"] for o in orders if o["blocked"])
    slow = [o for o in orders if (o["sessions_to_complete"] or 0) > 1]
    say(f"  next session: {totals['orders']} orders, bought {totals['bought'] / 1e6:.2f} m, sold "
        f"{totals['sold'] / 1e6:.2f} m, cost {totals['cost']:,.0f} {money} "
        f"({totals['cost'] / max(totals['bought'] + totals['sold'], 1) * 1e4:.1f} bp); "
        + (f"{len(slow)} trades need more sessions at the cap (up to "
           f"{max(o['sessions_to_complete'] for o in slow)})" if slow else "every trade completes in one session")
        + ("; blocked: " + ", ".join(f"{n} {r}" for r, n in blocked.items()) if blocked else ""))
    for o in orders[:5]:
        say(f"  {o['side']:4} {o['symbol']:<10} {o['shares']:>9,} @ {o['price']:.2f} ({o['reason']}), "
            f"{o['remaining_shares']:,} left")


def _print_top(body: dict, say: Say) -> None:
    money = body.get("currency") or "currency"
    say(f"top {len(body['stocks'])} on {body['as_of']} (model version {body['model_version']}, universe "
        f"{body['universe_size']} stocks; money in {money}):")
    say(f"{'rank':>4} {'symbol':<10} {'score':>7} {'pctile':>6} {'cap (m)':>8} {'max pos (k)':>11}  drivers")
    for s in body["stocks"]:
        drivers = "; ".join(f"{d.get('label', d['feature'])} {d['contribution']:+.3f}" for d in s["drivers"])
        position = s["liquidity"]["max_position"]
        say(f"{s['rank']:>4} {s['symbol']:<10} {s['score']:>7.4f} {s['percentile']:>6.2f} "
            f"{(s['market_cap'] or 0) / 1e6:>8.0f} {(position or 0) / 1e3:>11.0f}  {drivers}")


def _backtest(data: Path, out: Path, cfg, say: Say) -> Path | None:
    from mlflow.tracking import MlflowClient

    from spotlight.jobs.backtest import BacktestJobError, run_job
    from tracking.registry import CHAMPION
    from tracking.store import tracking_uri

    run_id = MlflowClient(tracking_uri()).get_model_version_by_alias(cfg.registered_model, CHAMPION).run_id
    try:
        done = run_job(data, cfg, run_id=run_id, report=out / "backtest_report.html",
                       say=lambda step: say(f"  backtest: {step}"))
    except BacktestJobError as exc:
        say(f"the backtest failed: {exc}")
        return None
    from backtest.plots import amount

    s, curve, money = done.report.stats, done.report.capacity, done.report.currency
    say(f"top {done.report.config.top_n}, {amount(done.report.config.capital)} {money}: {s['annual_return']:+.1%} a year after "
        f"costs against {s['benchmark_annual_return']:+.1%} for the universe (excess {s['excess_annual_return']:+.1%}, "
        f"IR {s['information_ratio']:.2f}), max drawdown {s['max_drawdown']:.1%}, fill ratio {s['fill_ratio']:.0%}")
    if curve is not None:
        say(f"capacity (excess a year at each starting capital, {money}): "
            + ", ".join(f"{amount(c)} {v:+.1%}" for c, v in curve["excess_annual_return"].items()))
    latest = done.report.latest_crowding
    say(f"crowding regime on {latest.name:%Y-%m-%d}: {latest['regime']} (run {done.run_id}, nested under {run_id})")
    return done.html


def run_demo(out: Path, stocks: int = 3000, years: int = 10, seed: int = 0, port: int = 3000,
             say: Say = print) -> ExitCode:
    """The demo; ExitCode.OK when every step worked."""
    from spotlight.config import load_config

    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config()
    root = out / "bundles"
    say("== 1. the built-in market")
    earlier, mid, full = _market(out, stocks, years, seed, say)

    say("== 2. walk-forward training in MLflow, ONNX export, publish (data to a month ago)")
    first = _retrain(earlier, root, cfg, say)
    if first.code not in (ExitCode.OK, ExitCode.KEPT):
        return first.code

    say("== 3. the ranking service")
    port = _free_port(port)
    url = f"http://127.0.0.1:{port}"
    log = out / "serve.log"
    env = os.environ | {"SPOTLIGHT_RELOAD_SECONDS": "1", "BENTOML_DO_NOT_TRACK": "True"}
    env.pop("SPOTLIGHT_API_TOKEN", None)
    with open(log, "wb") as sink:
        service = subprocess.Popen([str(Path(sys.executable).with_name("spotlight")), "serve", "--bundle", str(root),
                                    "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if service.poll() is not None:
                say(f"the service exited {service.returncode}; see {log}")
                return ExitCode.FAILED
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    say(f"the service was not ready in 120 s; see {log}")
                    return ExitCode.FAILED
                time.sleep(0.5)
        say(f"serving {url}; POST /rank top_n 20:")
        _print_top(_call(f"{url}/rank", {"top_n": 20}), say)

        say("== 4. the daily refresh: the same model on ten more sessions, swapped in; the live monitor; "
            "a rebalance's orders")
        if not _refresh(mid, root, cfg, url, say):
            return ExitCode.FAILED

        say("== 5. retrain with the month held back, the promotion gate, hot reload")
        second = _retrain(full, root, cfg, say)
        if second.code == ExitCode.OK:
            deadline = time.monotonic() + 60
            while _call(f"{url}/model")["model"]["version"] != second.version and time.monotonic() < deadline:
                time.sleep(0.5)
            model = _call(f"{url}/model")
            if model["model"]["version"] != second.version:
                say(f"the service did not swap in version {second.version} within 60 s; see {log}")
                return ExitCode.FAILED
            say(f"the running service now serves version {model['model']['version']} (bundle {model['bundle_id']}, "
                f"dates to {model['dates'][-1]}) -- swapped in without a restart")
            _print_top(_call(f"{url}/rank", {"top_n": 5}), say)
        elif second.code != ExitCode.KEPT:
            return second.code
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()

    say("== 6. backtest the champion's out-of-sample predictions: costs, limits, capacity, crowding")
    report = _backtest(full, out, cfg, say)
    if report is None:
        return ExitCode.FAILED

    say("== 7. where to look")
    say("MLflow UI:     make mlflow-ui, then open http://127.0.0.1:5000 (experiment 'spotlight', model "
        "'spotlight-microcap', aliases champion/candidate)")
    say(f"the service:   make serve (or spotlight serve --bundle {root}), then open http://127.0.0.1:3000 for the "
        "API docs (/docs.json is the OpenAPI spec)")
    say(f"roll back:     spotlight rollback --serve-root {root}")
    say(f"orders:        spotlight rebalance --capital 1e8 --holdings book.csv --serve-root {root} --out orders")
    say(f"the backtest:  open {report} (one self-contained page)")
    say(f"demo finished in {time.perf_counter() - started:.0f} s; the service was stopped")
    return ExitCode.OK
