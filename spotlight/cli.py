"""The ``spotlight`` command line: a thin typer layer over plain, testable functions.

Heavy libraries are imported inside each command, so ``spotlight --help`` stays fast and
importing this module does nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn

app = typer.Typer(
    name="spotlight",
    help="Spotlight: rank micro-cap stocks that are about to be noticed.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

EXIT_INVALID_DATA = 1


def _progress(label: ProgressColumn, count: ProgressColumn) -> Progress:
    """A progress bar on stderr: LABEL, bar, COUNT, elapsed time; shown only on a terminal and
    removed when done."""
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    return Progress(label, BarColumn(), count, TimeElapsedColumn(), transient=True,
                    disable=not sys.stderr.isatty())


def _fail(message: str, code: int = EXIT_INVALID_DATA) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load_market(path: Path):
    """The validated market at ``path``, or exit 1 naming what breaks the contract."""
    from market import InvalidMarketError, MarketDataError, load_market

    try:
        return load_market(path)
    except (InvalidMarketError, MarketDataError) as exc:
        raise _fail(str(exc)) from None


@app.command(epilog="Example: spotlight validate ../shared/markets/cn-dev-2010-2015")
def validate(
    market_dir: Annotated[Path, typer.Argument(help="Market directory following docs/data-contract.md.")],
) -> None:
    """Check a market directory against every contract rule.

    Exit 0 with a one-line summary, or 1 with each violation: table, column, rule and up to
    5 offending (symbol, date) rows.
    """
    from market import InvalidMarketError, MarketDataError, load_market

    try:
        market = load_market(market_dir)
    except InvalidMarketError as exc:
        raise _fail(str(exc)) from None
    except MarketDataError as exc:
        raise _fail(f"{market_dir}: {exc.message}") from None
    typer.echo(f"OK {market_dir}: {market.summary()}")


@app.command(epilog="Example: spotlight simulate --out demo/market --stocks 3000 --years 10 --seed 0")
def simulate(
    out: Annotated[Path, typer.Option(help="Directory to write the market into (replaced if present).")],
    stocks: Annotated[int, typer.Option(min=50, help="Number of securities.")] = 3000,
    years: Annotated[int, typer.Option(min=1, max=40, help="Calendar years of trading days.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, identical files.")] = 0,
    signal: Annotated[float, typer.Option(min=0.0, help="Scale of every predictable effect; 0 = none.")] = 1.0,
    start: Annotated[str, typer.Option(help="First calendar day (YYYY-MM-DD).")] = "2015-01-01",
) -> None:
    """Write the built-in simulated A-share market (contract tables + ground truth).

    Besides the contract tables, OUT gets ground_truth.parquet (each month-end's expected
    next-21-day return per stock given the latent state) and simulation.json (parameters).
    """
    from rich.progress import TextColumn

    from market.simulate import SimulationConfig, simulate_market, write_market

    try:
        config = SimulationConfig(n_stocks=stocks, years=years, seed=seed, signal=signal, start=start)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    with _progress(TextColumn("simulating"), TextColumn("{task.completed}/{task.total} days")) as bar:
        task = bar.add_task("days", total=None)
        sim = simulate_market(config, progress=lambda done, total: bar.update(task, completed=done, total=total))
    write_market(sim, out)
    bars = sim.tables["daily_bars"]
    typer.echo(f"wrote {out}: {len(sim.tables['securities'])} symbols, {len(bars)} stock-days, "
               f"{bars['date'].min():%Y-%m-%d}..{bars['date'].max():%Y-%m-%d}, "
               f"{len(sim.crises)} liquidity crisis(es), signal {signal:g}, seed {seed}")


@app.command(epilog="Example: spotlight summary demo/market")
def summary(
    market_dir: Annotated[Path, typer.Argument(help="Market directory following docs/data-contract.md.")],
) -> None:
    """Print a summary of a market: coverage, boards, sizes, liquidity, ST, suspensions."""
    from rich.console import Console

    from spotlight.tables import market_table

    Console().print(market_table(_load_market(market_dir)))


@app.command(epilog="Example: spotlight calibrate demo/market ../shared/markets/cn-dev-2010-2015")
def calibrate(
    simulated: Annotated[Path, typer.Argument(help="A simulated (or any) market directory.")],
    real: Annotated[Path, typer.Argument(help="The reference market, e.g. the real dev market.")],
    tolerance: Annotated[float, typer.Option(help="Acceptable ratio simulated/real (and its inverse).")] = 1.5,
) -> None:
    """Print stylised facts of two markets side by side and which agree within TOLERANCE x.

    Volatility by size quintile, small-cap turnover, its autocorrelation, limit hits,
    suspensions, delistings, ST share and the size premium (definitions: market/calibration.py).
    """
    from rich.console import Console

    from market.calibration import compare, stylised_facts
    from spotlight.tables import calibration_table

    sim_facts = stylised_facts(_load_market(simulated))
    real_facts = stylised_facts(_load_market(real))
    Console(width=120).print(calibration_table(compare(sim_facts, real_facts, tolerance), tolerance))


def _date(value: str | None, option: str) -> str | None:
    import pandas as pd

    if value is None:
        return None
    try:
        pd.Timestamp(value)
    except ValueError:
        raise _fail(f"{option} {value!r} is not a date (YYYY-MM-DD)", 2) from None
    return value


@app.command(epilog="Example: spotlight features --data demo/market --out demo/panel.parquet --freq monthly")
def features(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write (replaced atomically).")],
    freq: Annotated[str, typer.Option(help="monthly (each month's last trading day) or daily.")] = "monthly",
    start: Annotated[str | None, typer.Option(help="First date to write (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date to write (YYYY-MM-DD).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Write just this trading day.")] = None,
    universe: Annotated[str, typer.Option(help="smallest_n or cap_band.")] = "smallest_n",
    n: Annotated[int, typer.Option(help="Universe size for smallest_n.")] = 400,
    band: Annotated[tuple[float, float], typer.Option(help="Market-cap band for cap_band (low high, currency).")]
    = (50e6, 300e6),
    transform: Annotated[list[str] | None, typer.Option(
        help="Cross-sectional step applied per date over universe members, in order: rank, robust_z, "
             "industry_neutral (repeatable).")] = None,
    labels: Annotated[bool, typer.Option(help="Add the forward-looking label_* columns where known.")] = True,
) -> None:
    """Build the point-in-time feature panel: date, symbol, in_universe, exclusion_reason, every
    registered feature, and label_* columns.

    Everything is recomputed from the market on every run (no cache), so a run restricted by
    --start/--end/--as-of equals the matching rows of a full run.
    """
    from rich.progress import TextColumn

    from features import PanelError, UniverseConfig, apply_transforms, build_panel, registered, write_panel
    from training.labels import LABELS

    from features.transforms import TRANSFORMS

    for value, option in ((start, "--start"), (end, "--end"), (as_of, "--as-of")):
        _date(value, option)
    unknown = [t for t in transform or [] if t not in TRANSFORMS]
    if unknown:
        raise _fail(f"unknown --transform {unknown}; choose from {sorted(TRANSFORMS)}", 2)
    try:
        config = UniverseConfig(kind=universe, n=n, band=band)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    market = _load_market(data)
    chosen = registered()
    extra = LABELS if labels else {}
    with _progress(TextColumn("{task.description:<28}"), TextColumn("{task.completed}/{task.total}")) as bar:
        task = bar.add_task("features", total=1 + len(chosen) + len(extra))

        def step(name: str) -> None:
            bar.update(task, advance=0 if name == "universe" else 1, description=name)

        try:
            panel = build_panel(market, universe=config, freq=freq, start=start, end=end, as_of=as_of,  # type: ignore[arg-type]
                                features=chosen, extra=extra, progress=step)
            if transform:
                columns = [f.name for f in chosen if f.family != "segment"]
                industry = panel["symbol"].map(market.securities.set_index("symbol")["industry"])
                panel = apply_transforms(panel, transform, columns, industry=industry)
        except (PanelError, ValueError) as exc:
            raise _fail(str(exc), 2) from None
    write_panel(panel, out)
    members = panel.groupby("date")["in_universe"].sum()
    typer.echo(f"wrote {out}: {len(panel)} rows, {panel['date'].nunique()} dates "
               f"({panel['date'].min():%Y-%m-%d}..{panel['date'].max():%Y-%m-%d}), {len(chosen)} features, "
               f"median {int(members.median())} universe members per date")


@app.command(epilog="Example: spotlight ic --panel demo/panel.parquet --label label_rerating")
def ic(
    panel: Annotated[Path, typer.Option(help="A panel written by spotlight features.")],
    label: Annotated[str, typer.Option(help="Label column to rank against.")] = "label_rerating",
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table instead.")] = False,
) -> None:
    """Print each feature's mean monthly RankIC against a label, by family: mean, ICIR,
    t-stat, share of positive dates (definitions: training/ic.py)."""
    import pandas as pd
    from rich.console import Console

    from features import registered
    from spotlight.tables import ic_markdown, ic_table
    from training.ic import ic_summary

    try:
        frame = pd.read_parquet(panel)
    except (OSError, ValueError) as exc:
        raise _fail(f"{panel}: cannot read a panel ({exc})") from None
    if label not in frame.columns:
        labels = [c for c in frame.columns if c.startswith("label_")]
        raise _fail(f"{panel}: no column {label!r}; labels present: {labels or 'none'}", 2)
    chosen = [f for f in registered() if f.name in frame.columns]
    summary = ic_summary(frame, [f.name for f in chosen], label)
    summary.insert(0, "family", [f.family for f in chosen])
    if markdown:
        typer.echo(ic_markdown(summary))
    else:
        Console(width=120).print(ic_table(summary, label))


@app.command(epilog="Example: spotlight train --data demo/market --predictions-out demo/oos.parquet")
def train(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    config: Annotated[Path | None, typer.Option(help="TOML file overriding training/defaults.toml.")] = None,
    label: Annotated[str | None, typer.Option(help="rerating or attention_shift (overrides the config).")] = None,
    model: Annotated[str | None, typer.Option(help="regressor or ranker (overrides the config).")] = None,
    predictions_out: Annotated[Path | None, typer.Option(
        help="Parquet of out-of-sample scores: date, symbol, score (one row per universe stock per "
             "test month-end); replaced atomically.")] = None,
    markdown: Annotated[bool, typer.Option(help="Print the headline tables as Markdown.")] = False,
) -> None:
    """Walk-forward LightGBM training with baselines, tracked in MLflow.

    Builds the monthly panel, fits and scores every walk-forward fold, evaluates out of
    sample, logs one MLflow run (config, per-fold and overall metrics, plots, predictions,
    data fingerprint, git commit) and registers the final model with alias candidate.
    Tracking goes to MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db.
    Exit 1: the market breaks the contract; 2: a bad option or config. Nothing is logged
    or written on either.
    """
    from rich.console import Console
    from rich.progress import TextColumn

    from mlflow.exceptions import MlflowException

    from features.panel import write_panel
    from market.fingerprint import fingerprint
    from spotlight.tables import models_markdown, models_table, years_markdown
    from training.config import ConfigError, load_config
    from training.tracking import log_training, tracking_uri
    from training.train import train as run_training

    try:
        cfg = load_config(config, label=label, model=model)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    market = _load_market(data)
    with _progress(TextColumn("{task.description:<36}"), TextColumn("{task.completed}/{task.total}")) as bar:
        task = bar.add_task("features", total=1)

        def step(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        try:
            result = run_training(market, cfg, progress=step)
        except ConfigError as exc:
            raise _fail(str(exc), 2) from None
        step("mlflow: logging the run and model", 0, 1)
        try:
            logged = log_training(result, fingerprint(market), config_text=config.read_text() if config else None)
        except MlflowException as exc:
            raise _fail(f"MLflow at {tracking_uri()}: {exc.message} (nothing was kept)") from None
    if predictions_out is not None:
        write_panel(result.predictions[["date", "symbol", "score"]], predictions_out)
    names = {"score": "lightgbm " + cfg.model}
    summaries = {names.get(k, k.removeprefix("baseline_")): e.summary for k, e in result.evaluations.items()}
    console = Console(width=140)
    title = f"out of sample, {cfg.label_column}, {len(result.folds)} folds (monthly figures)"
    if markdown:
        typer.echo(models_markdown(summaries))
        typer.echo("")
        typer.echo(years_markdown(result.by_year))
    else:
        console.print(models_table(summaries, title))
    if result.truth:
        t = result.truth
        typer.echo(f"ground truth: model RankIC {t['model_rank_ic']:+.4f} / truth RankIC {t['truth_rank_ic']:+.4f} "
                   f"= {t['truth_ratio']:.2f}")
    spent = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in result.timings.items())
    typer.echo(f"time: {spent}")
    typer.echo(f"run {logged.run_id} (experiment {cfg.experiment}) at {logged.tracking_uri}")
    typer.echo(f"registered {logged.model_name} version {logged.model_version} as candidate")
    if predictions_out is not None:
        typer.echo(f"wrote {predictions_out}: {len(result.predictions)} rows")


@app.command(epilog="Example: spotlight promote 3")
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to make champion.")],
    model: Annotated[str | None, typer.Option(help="Registered model name (default: the config's).")] = None,
) -> None:
    """Move the champion alias to VERSION (the only manual way champion ever moves)."""
    from training.config import load_config
    from training.tracking import promote as move_alias

    name = model or load_config().registered_model
    try:
        previous = move_alias(version, name)
    except LookupError as exc:
        raise _fail(str(exc).strip("'\""), 2) from None
    typer.echo(f"{name}: champion -> version {version} (was {previous or 'unset'})")


@app.command(epilog="Example: spotlight export --alias champion --out bundle")
def export(
    out: Annotated[Path, typer.Option(help="Bundle directory to publish (an existing bundle there is replaced).")],
    alias: Annotated[str | None, typer.Option(help="Registered-model alias to export (default: champion).")] = None,
    run_id: Annotated[str | None, typer.Option(help="Export the version this MLflow run registered instead.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="Market to build the feature snapshot from (default: the run's own market).")] = None,
    months: Annotated[int, typer.Option(min=1, max=240, help="Month-ends to serve, the latest last.")] = 12,
    model: Annotated[str | None, typer.Option(help="Registered model name (default: the config's).")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file overriding training/defaults.toml "
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

    from serving.export import ExportError, export_bundle
    from training.config import ConfigError, load_config
    from training.tracking import tracking_uri

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    name = model or cfg.registered_model
    if alias is None and run_id is None:
        alias = "champion"
    with _progress(TextColumn("{task.description:<12}"), TextColumn("{task.completed}/{task.total}")) as bar:
        task = bar.add_task("model", total=1)
        try:
            done = export_bundle(out, tracking_uri=tracking_uri(), model_name=name, alias=alias, run_id=run_id,
                                 data=data, months=months, crowding_rule=cfg.crowding.build(),
                                 progress=lambda s, d, t: bar.update(task, description=s, completed=d, total=t))
        except ExportError as exc:
            raise _fail(str(exc), exc.code) from None
    m, p = done.manifest, done.parity
    typer.echo(f"parity over {p.rows} rows on {p.dates} dates: max |diff| {p.max_abs_diff:.3g} "
               f"({p.rel_diff:.3g} of the score spread), Spearman {p.spearman:.10f}, "
               f"top-50 mismatched dates {p.top_n_mismatched_dates}: passed")
    typer.echo(f"exported {m['model']['name']} version {m['model']['version']} (run {m['model']['run_id']}) to "
               f"{out}: {len(m['features'])} features, {len(m['dates'])} dates {m['dates'][0]}..{m['dates'][-1]}, "
               f"bundle {m['bundle_id']}")
    typer.echo(f"serve it: spotlight serve --bundle {out}")


@app.command(epilog="Example: spotlight serve --bundle bundle --port 3000")
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

    from serving.bundle import Bundle, BundleError
    from serving.publish import resolve

    try:
        loaded = Bundle.load(resolve(bundle))
    except BundleError as exc:
        raise _fail(str(exc)) from None
    m = loaded.manifest
    typer.echo(f"serving {m.model.name} version {m.model.version} (bundle {m.bundle_id}, {len(loaded.dates)} dates "
               f"{loaded.dates[0]}..{loaded.dates[-1]}) on http://{host}:{port}", err=True)
    if host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("SPOTLIGHT_API_TOKEN"):
        typer.echo(f"warning: binding {host} with no SPOTLIGHT_API_TOKEN: anyone who reaches this port can "
                   "query the service", err=True)
    env = os.environ | {"SPOTLIGHT_BUNDLE": str(bundle.resolve())}
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    args = [sys.executable, "-m", "bentoml", "serve", "serving.service:Spotlight", "--host", host, "--port", str(port)]
    os.execvpe(sys.executable, args, env)


@app.command(epilog="Example: spotlight retrain --data demo/market --serve-root bundles")
def retrain(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    config: Annotated[Path | None, typer.Option(help="TOML file overriding training/defaults.toml.")] = None,
    serve_root: Annotated[Path, typer.Option(help="Serving root: published bundles and the 'current' link.")] = Path(
        "bundles"),
) -> None:
    """Retrain on new data and promote the candidate only if it passes the gate.

    Validate -> train (walk-forward + final model, one MLflow run, registered as candidate)
    -> gate (the last retrain.months of out-of-sample RankIC against the champion's, within
    retrain.tolerance; the first candidate is promoted) -> export (ONNX parity gate) ->
    champion alias -> publish the bundle atomically into --serve-root. A second run on the
    same data and config changes nothing. Exit 0 promoted, 4 champion kept, 3 parity gate
    failed, 1 failed (nothing changed), 2 bad config, 75 another retrain is running.
    """
    from spotlight.retrain import retrain as run_job
    from training.config import ConfigError, load_config
    from training.tracking import tracking_uri

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    outcome = run_job(data, serve_root, cfg, tracking_uri(), say=lambda step: typer.echo(f"retrain: {step}", err=True))
    if outcome.summaries:
        from rich.console import Console

        from spotlight.tables import models_table

        Console(width=140).print(models_table(outcome.summaries, f"out of sample, {cfg.label_column} (monthly figures)"))
    for key, value in outcome.figures.items():
        typer.echo(f"{key}: {value:+.4f}")
    spent = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in outcome.timings.items())
    typer.echo(f"{outcome.decision}: {outcome.message}" + (f" [{spent}]" if spent else ""))
    if outcome.code:
        raise typer.Exit(outcome.code)


@app.command(epilog="Example: spotlight rollback --serve-root bundles")
def rollback(
    serve_root: Annotated[Path, typer.Option(help="Serving root: published bundles and the 'current' link.")] = Path(
        "bundles"),
    config: Annotated[Path | None, typer.Option(help="TOML file overriding training/defaults.toml.")] = None,
) -> None:
    """Move champion and the served bundle back to the previously published version."""
    from spotlight.retrain import RetrainError
    from spotlight.retrain import rollback as go_back
    from training.config import load_config
    from training.tracking import tracking_uri

    try:
        now, previous, version = go_back(serve_root, load_config(config), tracking_uri())
    except RetrainError as exc:
        raise _fail(str(exc), exc.code) from None
    typer.echo(f"rolled back: serving {previous} (champion -> version {version}), was {now}")


@app.command(epilog='Example: spotlight schedule --cron "0 18 * * 1-5" --data /data/market --timezone Asia/Shanghai')
def schedule(
    cron: Annotated[str, typer.Option(help="Five-field crontab expression, e.g. '0 18 * * 1-5'.")],
    data: Annotated[Path, typer.Option(help="Market directory the job retrains on.")],
    config: Annotated[Path | None, typer.Option(help="TOML file overriding training/defaults.toml.")] = None,
    serve_root: Annotated[Path, typer.Option(help="Serving root the job publishes into.")] = Path("bundles"),
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the expression (default: local).")] = None,
    run_now: Annotated[bool, typer.Option(help="Also run once right away.")] = False,
    max_runs: Annotated[int | None, typer.Option(min=1, help="Stop after this many runs (default: never).")] = None,
) -> None:
    """Run spotlight retrain on a cron schedule (APScheduler), one run at a time, each in its
    own process. A run on unchanged data changes nothing (exit 4). Exit 2 on a bad expression.
    Equivalent crontab line: see the README."""
    from spotlight.schedule import run, trigger

    try:
        trigger(cron, timezone)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    argv = [str(Path(sys.executable).with_name("spotlight")), "retrain", "--data", str(data),
            "--serve-root", str(serve_root), *(["--config", str(config)] if config else [])]
    run(cron, argv, timezone=timezone, run_now=run_now, max_runs=max_runs, say=typer.echo)


@app.command(epilog="Example: spotlight demo --out demo")
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
    from spotlight.demo import run_demo

    code = run_demo(out, stocks=stocks, years=years, seed=seed, port=port, say=typer.echo)
    if code:
        raise typer.Exit(code)


@app.command(epilog="Example: spotlight backtest --predictions demo/oos_predictions.parquet --data demo/market "
                    "--report backtest.html")
def backtest(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    predictions: Annotated[Path | None, typer.Option(help="Parquet with date, symbol, score (e.g. train "
                                                          "--predictions-out).")] = None,
    run_id: Annotated[str | None, typer.Option(help="A training run whose out-of-sample predictions to use "
                                                    "(instead of --predictions); the backtest is nested under it.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file overriding training/defaults.toml ([backtest], "
                                                     "[crowding], [universe]).")] = None,
    capital: Annotated[float | None, typer.Option(help="Starting capital (overrides backtest.capital).")] = None,
    top_n: Annotated[int | None, typer.Option(help="Names held after each monthly rebalance (overrides "
                                                   "backtest.top_n).")] = None,
    weighting: Annotated[str | None, typer.Option(help="equal or score (overrides backtest.weighting).")] = None,
    participation: Annotated[float | None, typer.Option(help="Daily trade cap per stock, share of its 20-day "
                                                             "median traded amount (overrides the config).")] = None,
    capacity_curve: Annotated[bool, typer.Option("--capacity/--no-capacity",
                                                 help="Run the capacity curve (backtest.capacity).")] = True,
    report: Annotated[Path, typer.Option(help="The self-contained HTML report (replaced atomically).")]
    = Path("backtest_report.html"),
    log_mlflow: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log the run to MLflow.")] = True,
    daily_out: Annotated[Path | None, typer.Option(help="CSV of the daily NAV, benchmark and costs.")] = None,
) -> None:
    """Liquidity-aware monthly top-N backtest with T+1 fills, limits, suspensions, a participation
    cap and costs, against the universe's equal-weight benchmark; the capacity curve; the crowding
    gauges and regime against the drawdowns. Writes one HTML report and logs an MLflow run
    (MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db).
    Exit 1: the market breaks the contract or the predictions do not fit it; 2: a bad option,
    config or run. Nothing is written or logged on either."""
    from spotlight.backtest import BacktestJobError, run_job
    from training.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    overrides = {"capital": capital, "top_n": top_n, "weighting": weighting, "participation": participation}
    try:
        done = run_job(data, cfg, predictions=predictions, run_id=run_id, overrides=overrides,
                       capacity=capacity_curve, report=report, daily_out=daily_out, log_mlflow=log_mlflow,
                       say=lambda step: typer.echo(f"backtest: {step}", err=True))
    except BacktestJobError as exc:
        raise _fail(str(exc), exc.code) from None
    result = done.report
    if done.run_id is not None:
        typer.echo(f"run {done.run_id} (experiment {done.experiment_id}) at {done.tracking_uri}")
    for key, value in result.stats.items():
        typer.echo(f"{key:26s} {value:+.4f}")
    if result.capacity is not None:
        typer.echo(result.capacity.to_string(float_format=lambda v: f"{v:+.4f}"))
    latest = result.latest_crowding
    typer.echo(f"crowding regime on {latest.name:%Y-%m-%d}: {latest['regime']}")
    if daily_out is not None:
        typer.echo(f"wrote {daily_out}")
    typer.echo(f"wrote {done.html}")
