"""Operations commands: promote, export, serve, retrain, refresh, monitor, rebalance, rollback, schedule, and
the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spotlight.cli.common import CONFIG_HELP, fail, fail_with, load_config, parse_date, progress
from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    from release.export import ExportError
    from spotlight.jobs.retrain import Outcome

commands = typer.Typer()
ServeRoot = Annotated[Path, typer.Option(help="Serving root: published bundles and the 'current' link.")]


def export_code(exc: ExportError) -> ExitCode:
    """USAGE for a request export cannot answer, PARITY_FAILED for the gate, else FAILED."""
    from release.export import ExportRequestError, ParityError

    if isinstance(exc, ParityError):
        return ExitCode.PARITY_FAILED
    return ExitCode.USAGE if isinstance(exc, ExportRequestError) else ExitCode.FAILED


@commands.command(epilog="Example: spotlight promote 3")
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to make champion.")],
    model: Annotated[str | None, typer.Option(help="Registered model name (default: the config's).")] = None,
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
) -> None:
    """Move the champion alias to VERSION (the only manual way champion ever moves)."""
    from mlflow.tracking import MlflowClient

    from tracking.registry import VersionLookupError
    from tracking.registry import promote as move_alias
    from tracking.store import configure

    name = model or load_config(config).registered_model
    try:
        previous = move_alias(MlflowClient(configure()), version, name)
    except VersionLookupError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    typer.echo(f"{name}: champion -> version {version} (was {previous or 'unset'})")


@commands.command(epilog="Example: spotlight export --alias champion --out bundle")
def export(
    out: Annotated[Path, typer.Option(help="Bundle directory to publish (an existing bundle there is replaced).")],
    alias: Annotated[str | None, typer.Option(help="Registered-model alias to export (default: champion).")] = None,
    run_id: Annotated[str | None, typer.Option(help="Export the version this MLflow run registered instead.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="Market to build the feature snapshot from (default: the run's own market).")] = None,
    months: Annotated[int, typer.Option(min=1, max=240, help="Month-ends to serve, the latest last.")] = 12,
    model: Annotated[str | None, typer.Option(help="Registered model name (default: the config's).")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file overriding the defaults "
                                                     "(registered_model, [crowding]).")] = None,
) -> None:
    """Convert a registered model to ONNX and publish a serving bundle after the parity gate.

    Writes model.onnx, manifest.json and snapshot.parquet (features, scores' drivers and
    liquidity of every listed stock on the served dates), logs them to the model's MLflow run
    under bundle/, then moves the bundle into place. Exit 2: no such alias or run, or a bad
    --out; 1: the model or market cannot be served; 3: ONNX and LightGBM disagree (parity
    gate). Nothing is published on any of these.
    """
    from rich.progress import TextColumn

    from release.export import ExportError, export_bundle
    from tracking.store import tracking_uri

    cfg = load_config(config)
    name = model or cfg.registered_model
    if alias is None and run_id is None:
        alias = "champion"
    with progress(TextColumn("{task.description:<12}"), TextColumn("{task.completed}/{task.total}")) as bar:
        task = bar.add_task("model", total=1)
        try:
            done = export_bundle(out, tracking_uri=tracking_uri(), model_name=name, alias=alias, run_id=run_id,
                                 data=data, months=months, crowding_rule=cfg.crowding, currency=cfg.currency,
                                 trading=cfg.backtest.trading_rules(),
                                 progress=lambda s, d, t: bar.update(task, description=s, completed=d, total=t))
        except ExportError as exc:
            raise fail(str(exc), export_code(exc)) from None
    m, p = done.manifest, done.parity
    typer.echo(f"parity over {p.rows} rows on {p.dates} dates: max |diff| {p.max_abs_diff:.3g} "
               f"({p.rel_diff:.3g} of the score spread), Spearman {p.spearman:.10f}, "
               f"top-50 mismatched dates {p.top_n_mismatched_dates}: passed")
    typer.echo(f"exported {m['model']['name']} version {m['model']['version']} (run {m['model']['run_id']}) to "
               f"{out}: {len(m['features'])} features, {len(m['dates'])} dates {m['dates'][0]}..{m['dates'][-1]}, "
               f"bundle {m['bundle_id']}")
    typer.echo(f"serve it: spotlight serve --bundle {out}")


@commands.command(epilog="Example: spotlight serve --bundle bundle --port 3000")
def serve(
    bundle: Annotated[Path, typer.Option(
        help="Bundle directory written by spotlight export, or a serving root with a 'current' link "
             "(then newly published bundles are swapped in without a restart).")] = Path("bundle"),
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 3000,
) -> None:
    """Run the ranking service (BentoML): POST /rank, POST /score, GET /model.

    The bundle is checked first (exit 1 naming the file at fault). Set SPOTLIGHT_API_TOKEN to
    require 'Authorization: Bearer <token>' on every endpoint but /livez, /readyz and /healthz;
    SPOTLIGHT_MAX_ROWS caps the rows of one /score request (default 10000). API docs at
    http://HOST:PORT/ and the OpenAPI spec at /docs.json.
    """
    import os

    from serving.bundle import Bundle, BundleError, resolve
    from serving.settings import ServeSettings

    try:
        loaded = Bundle.load(resolve(bundle))
    except BundleError as exc:
        raise fail(str(exc)) from None
    m = loaded.manifest
    typer.echo(f"serving {m.model.name} version {m.model.version} (bundle {m.bundle_id}, {len(loaded.dates)} dates "
               f"{loaded.dates[0]}..{loaded.dates[-1]}) on http://{host}:{port}", err=True)
    if host not in ("127.0.0.1", "localhost", "::1") and not ServeSettings().api_token:
        typer.echo(f"warning: binding {host} with no SPOTLIGHT_API_TOKEN: anyone who reaches this port can "
                   "query the service", err=True)
    env = os.environ | {"SPOTLIGHT_BUNDLE": str(bundle.resolve())}
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    args = [sys.executable, "-m", "bentoml", "serve", "serving.service:Spotlight", "--host", host, "--port", str(port)]
    os.execvpe(sys.executable, args, env)


def _finish(outcome: Outcome) -> None:
    """Print a serving-root job's decision, message and step times; exit with its code."""
    spent = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in outcome.timings.items())
    typer.echo(f"{outcome.decision}: {outcome.message}" + (f" [{spent}]" if spent else ""))
    if outcome.code != ExitCode.OK:
        raise typer.Exit(int(outcome.code))


@commands.command(epilog="Example: spotlight retrain --data demo/market --serve-root bundles")
def retrain(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
    serve_root: ServeRoot = Path("bundles"),
) -> None:
    """Retrain on new data and promote the candidate only if it passes the gate.

    Validate -> train (walk-forward + final model, one MLflow run, registered as candidate)
    -> gate (the last retrain.months of out-of-sample RankIC against the champion's, within
    retrain.tolerance; the first candidate is promoted) -> export (ONNX parity gate) ->
    champion alias -> publish the bundle atomically into --serve-root -> after a promotion, the
    monitor (GET /monitor follows the new champion). A second run on the same data and config
    changes nothing. Exit 0 promoted, 4 champion kept, 3 parity gate
    failed, 1 failed (nothing changed), 2 bad config, 75 another retrain is running.
    """
    from spotlight.jobs.retrain import retrain as run_job
    from tracking.store import tracking_uri

    cfg = load_config(config)
    outcome = run_job(data, serve_root, cfg, tracking_uri(), say=lambda step: typer.echo(f"retrain: {step}", err=True))
    if outcome.summaries:
        from rich.console import Console

        from spotlight.cli.tables import models_table

        Console(width=140).print(models_table(outcome.summaries, f"out of sample, {cfg.train.label_column} (monthly figures)"))
    for key, value in outcome.figures.items():
        typer.echo(f"{key}: {value:+.4f}")
    if outcome.code == ExitCode.OK:  # GET /monitor follows the new champion now, not after the next refresh
        from spotlight.jobs.monitor import follow

        outcome.timings["monitor_s"] = follow(data, serve_root, cfg, tracking_uri(),
                                              say=lambda step: typer.echo(f"retrain: {step}", err=True))
    _finish(outcome)


@commands.command(epilog="Example: spotlight refresh --data /data/market --serve-root bundles")
def refresh(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md, with the new days.")],
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
    serve_root: ServeRoot = Path("bundles"),
) -> None:
    """Serve the champion's rankings on new days without training a new model.

    Validate -> export the champion on this market (point-in-time features for the served
    month-ends and the latest trading day, ONNX parity gate) -> publish atomically (a running
    service swaps it in). The model version and the champion alias stay. Shares the retrain
    job's lock. Exit 0 refreshed, 4 already served on this data (or older data), 3 parity gate
    failed, 1 failed (nothing changed), 2 no champion yet or a bad config, 75 another job holds
    the lock.
    """
    from spotlight.jobs.refresh import refresh as run_job
    from tracking.store import tracking_uri

    cfg = load_config(config)
    _finish(run_job(data, serve_root, cfg, tracking_uri(), say=lambda step: typer.echo(f"refresh: {step}", err=True)))


@commands.command(epilog="Example: spotlight monitor --data /data/market --serve-root bundles")
def monitor(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md, as of today.")],
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
    serve_root: ServeRoot = Path("bundles"),
) -> None:
    """How the live model is doing: realised RankIC and top-N excess return of each served date
    whose 21-day horizon has passed, feature drift (PSI) against the champion's training data,
    the crowding regime, and the alert state ([monitor] in the config). Writes
    <serve-root>/monitor.json (served at GET /monitor) and logs to MLflow. Exit 0 no alert,
    5 alert, 1 bad data or nothing served.
    """
    from spotlight.jobs.monitor import MonitorError
    from spotlight.jobs.monitor import monitor as run_job
    from tracking.store import tracking_uri

    cfg = load_config(config)
    try:
        done = run_job(data, serve_root, cfg, tracking_uri(), say=lambda step: typer.echo(f"monitor: {step}", err=True))
    except MonitorError as exc:
        raise fail_with(exc) from None
    for row in done.report["realised"][-6:]:
        typer.echo(f"{row['date']} (version {row['model_version']}): realised RankIC {row['rank_ic']:+.3f}, top-N "
                   f"excess {row['top_n_excess']:+.2%} over {row['members']} stocks")
    worst = done.report["drift"]["features"][:3]
    if worst:
        typer.echo("most drifted: " + ", ".join(f"{f['label']} (PSI {f['psi']}, level {f.get('psi_level')})" for f in worst))
    alert = done.report["alert"]
    typer.echo(f"alert: {alert['state']}" + (f" -- {'; '.join(alert['reasons'])}" if alert["reasons"] else ""))
    if done.code != ExitCode.OK:
        raise typer.Exit(int(done.code))


@commands.command(epilog="Example: spotlight rebalance --capital 2e7 --holdings book.csv --out orders/2026-12-03")
def rebalance(
    capital: Annotated[float, typer.Option(min=0, help="The book's cash besides its holdings (the bundle's "
                                                       "currency).")],
    holdings: Annotated[Path | None, typer.Option(help="CSV of symbol,shares: what the book holds.")] = None,
    as_of: Annotated[str | None, typer.Option(help="A served date (default: the latest).")] = None,
    top_n: Annotated[int | None, typer.Option(min=1, help="Names in a new target (default 100).")] = None,
    weighting: Annotated[str | None, typer.Option(help="equal | score (default equal).")] = None,
    participation: Annotated[float | None, typer.Option(help="Daily cap per stock, a share of its median "
                                                             "traded amount (default: the bundle's).")] = None,
    target: Annotated[Path | None, typer.Option(help="CSV of symbol,shares: a target under way (an earlier "
                                                     "target.csv) instead of a new one.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory to write orders.csv, target.csv and "
                                                  "rebalance.json into (replaced whole).")] = None,
    serve_root: ServeRoot = Path("bundles"),
) -> None:
    """The target portfolio and the next session's orders for a book, exactly as POST /rebalance
    answers them from the served bundle: whole board lots, the participation cap (the rest
    carried, with the sessions it takes), no buy when suspended or limit-up-locked, no sell when
    suspended or limit-down-locked, leavers sold with their reason, the backtest's costs.
    Exit 0 done, 1 a bad CSV or bundle, 2 a bad option, date or symbol."""
    from spotlight.jobs.rebalance import read_positions, run, write

    try:
        fields: dict[str, object] = {"capital": capital, "as_of": parse_date(as_of, "--as-of")}
        if holdings is not None:
            fields["holdings"] = [p.model_dump() for p in read_positions(holdings)]
        if target is not None:
            fields["target"] = [p.model_dump() for p in read_positions(target)]
        fields |= {k: v for k, v in {"top_n": top_n, "weighting": weighting, "participation": participation}.items()
                   if v is not None}
        answer = run(serve_root, fields)
        if out is not None:
            write(answer, out)
    except CommandError as exc:
        raise fail_with(exc) from None
    book, totals = answer["book"], answer["totals"]
    money = answer["currency"] or ""
    typer.echo(f"{answer['as_of']}: book {book['value']:,.0f} {money} ({book['cash']:,.0f} cash), target "
               f"{len(answer['target'])} names ({answer['target_from']}), model version {answer['model_version']}")
    for o in answer["orders"][:15]:
        left = f", {o['remaining_shares']:,} left (~{o['sessions_to_complete']} sessions)" if o["remaining_shares"] \
            and o["sessions_to_complete"] else ""
        blocked = f", blocked: {o['blocked']}" if o["blocked"] else ""
        typer.echo(f"  {o['side']:4} {o['symbol']:>10} {o['shares']:>10,} @ {o['price']:.2f} ({o['reason']}){left}"
                   f"{blocked}")
    if len(answer["orders"]) > 15:
        typer.echo(f"  ... {len(answer['orders']) - 15} more")
    typer.echo(f"next session: {totals['orders']} orders, bought {totals['bought']:,.0f}, sold {totals['sold']:,.0f}, "
               f"cost {totals['cost']:,.0f} {money}; cash after {totals['cash_after']:,.0f}"
               + (f"; written to {out}" if out is not None else ""))


@commands.command(epilog="Example: spotlight rollback --serve-root bundles")
def rollback(
    serve_root: ServeRoot = Path("bundles"),
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
) -> None:
    """Move champion and the served bundle back to the previously published version."""
    from spotlight.jobs.retrain import rollback as go_back
    from tracking.store import tracking_uri

    cfg = load_config(config)
    try:
        now, previous, version = go_back(serve_root, cfg, tracking_uri())
    except CommandError as exc:
        raise fail_with(exc) from None
    typer.echo(f"rolled back: serving {previous} (champion -> version {version}), was {now}")


@commands.command(epilog='Example: spotlight schedule --cron "0 19 1 * *" --refresh-cron "0 18 * * 1-5" '
                         '--data /data/market --timezone Asia/Shanghai')
def schedule(
    cron: Annotated[str, typer.Option(help="When to retrain: a five-field crontab expression, e.g. '0 19 1 * *' "
                                           "(monthly).")],
    data: Annotated[Path, typer.Option(help="Market directory the jobs read.")],
    refresh_cron: Annotated[str | None, typer.Option(help="When to refresh (spotlight refresh: the champion on "
                                                          "new days, no new model), e.g. '0 18 * * 1-5'.")] = None,
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
    serve_root: Annotated[Path, typer.Option(help="Serving root the job publishes into.")] = Path("bundles"),
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the expression (default: local).")] = None,
    run_now: Annotated[bool, typer.Option(help="Also run once right away.")] = False,
    max_runs: Annotated[int | None, typer.Option(min=1, help="Stop after this many runs (default: never).")] = None,
) -> None:
    """Run spotlight retrain (and, with --refresh-cron, spotlight refresh) on cron schedules
    (APScheduler), one run at a time, each in its own process. A run on unchanged data changes
    nothing (exit 4). Exit 2 on a bad expression. Equivalent crontab lines: see the README."""
    from spotlight.jobs.schedule import run, trigger

    crons = {"retrain": cron, **({"refresh": refresh_cron} if refresh_cron else {})}
    for name, expression in crons.items():
        try:
            trigger(expression, timezone)
        except ValueError as exc:
            raise fail(f"--{'refresh-' if name == 'refresh' else ''}cron: {exc}", ExitCode.USAGE) from None
    tail = ["--data", str(data), "--serve-root", str(serve_root), *(["--config", str(config)] if config else [])]
    spotlight = str(Path(sys.executable).with_name("spotlight"))
    jobs = [(name, expression, [spotlight, name, *tail]) for name, expression in crons.items()]
    run(jobs, timezone=timezone, run_now=run_now, max_runs=max_runs, say=typer.echo)


@commands.command(epilog="Example: spotlight demo --out demo")
def demo(
    out: Annotated[Path, typer.Option(help="Directory for the demo's markets and bundles.")] = Path("demo"),
    stocks: Annotated[int, typer.Option(min=200, help="Simulated securities.")] = 3000,
    years: Annotated[int, typer.Option(min=5, max=40, help="Simulated years.")] = 10,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for the service (a free one if taken).")] = 3000,
) -> None:
    """The end-to-end demo on the built-in market: simulate, train in MLflow, export to ONNX,
    serve, rank the top 20 with drivers, retrain with one more month and show the promotion
    decision and the live swap, then stop the service."""
    from spotlight.jobs.demo import run_demo

    code = run_demo(out, stocks=stocks, years=years, seed=seed, port=port, say=typer.echo)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))
