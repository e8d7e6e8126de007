"""Research commands: the feature panel, feature RankICs, walk-forward training, the daily model
on Dask, the backtest, and the resolved configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spotlight.cli.common import (
    CONFIG_HELP,
    ClusterOption,
    fail,
    fail_with,
    load_config,
    open_market,
    parse_date,
    progress,
)
from spotlight.exit_code import CommandError, ExitCode

commands = typer.Typer()


@commands.command(epilog="Example: spotlight features --data demo/market --out demo/panel.parquet --freq monthly")
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
    cluster: ClusterOption = None,
) -> None:
    """Build the point-in-time feature panel: date, symbol, in_universe, exclusion_reason, every
    registered feature, and label_* columns.

    Everything is recomputed from the market on every run (no cache), so a run restricted by
    --start/--end/--as-of equals the matching rows of a full run.
    """
    from pydantic import ValidationError
    from rich.progress import TextColumn

    from features import UniverseConfig, registered
    from market import InvalidMarketError, MarketDataError
    from spotlight.cluster import connect
    from spotlight.config import describe
    from spotlight.jobs.features import check_transforms, run_job
    from training.labels import LABELS

    for value, option in ((start, "--start"), (end, "--end"), (as_of, "--as-of")):
        parse_date(value, option)
    if universe not in ("smallest_n", "cap_band"):
        raise fail(f"--universe must be smallest_n or cap_band, got {universe!r}", ExitCode.USAGE)
    try:
        check_transforms(transform or [])
        config = UniverseConfig(kind=universe, n=n, band=band)
    except CommandError as exc:
        raise fail_with(exc) from None
    except ValidationError as exc:
        raise fail(f"universe: {describe(exc)}", ExitCode.USAGE) from None
    n_features, n_labels = len(registered()), len(LABELS) if labels else 0
    say = lambda line: typer.echo(line, err=True)  # noqa: E731
    try:
        with connect(cluster, say=say) as client:
            market = open_market(data, client, say)
            with progress(TextColumn("{task.description:<28}"), TextColumn("{task.completed}/{task.total}")) as bar:
                task = bar.add_task("features", total=1 + n_features + n_labels)

                def step(name: str) -> None:
                    if client is not None:
                        say(f"features: {name}")
                    bar.update(task, advance=0 if name == "universe" else 1, description=name)

                panel = run_job(market, out, config, freq=freq, start=start, end=end, as_of=as_of,  # type: ignore[arg-type]
                                transforms=transform or [], labels=labels, progress=step)
    except CommandError as exc:
        raise fail_with(exc) from None
    except (InvalidMarketError, MarketDataError) as exc:  # a part found bad on a worker
        raise fail(str(exc)) from None
    members = panel.groupby("date")["in_universe"].sum()
    typer.echo(f"wrote {out}: {len(panel)} rows, {panel['date'].nunique()} dates "
               f"({panel['date'].min():%Y-%m-%d}..{panel['date'].max():%Y-%m-%d}), {n_features} features, "
               f"median {int(members.median())} universe members per date")


@commands.command(epilog="Example: spotlight ic --panel demo/panel.parquet --label label_rerating")
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
    from spotlight.cli.tables import ic_markdown, ic_table
    from training.ic import ic_summary

    try:
        frame = pd.read_parquet(panel)
    except (OSError, ValueError) as exc:
        raise fail(f"{panel}: cannot read a panel ({exc})") from None
    if label not in frame.columns:
        labels = [c for c in frame.columns if c.startswith("label_")]
        raise fail(f"{panel}: no column {label!r}; labels present: {labels or 'none'}", ExitCode.USAGE)
    chosen = [f for f in registered() if f.name in frame.columns]
    summary = ic_summary(frame, [f.name for f in chosen], label)
    summary.insert(0, "family", [f.family for f in chosen])
    if markdown:
        typer.echo(ic_markdown(summary))
    else:
        Console(width=120).print(ic_table(summary, label))


@commands.command(epilog="Example: spotlight train --data demo/market --predictions-out demo/oos.parquet")
def train(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
    label: Annotated[str | None, typer.Option(help="rerating or attention_shift (overrides the config).")] = None,
    model: Annotated[str | None, typer.Option(help="regressor or ranker (overrides the config).")] = None,
    predictions_out: Annotated[Path | None, typer.Option(
        help="Parquet of out-of-sample scores: date, symbol, score (one row per universe stock per "
             "test month-end); replaced atomically.")] = None,
    markdown: Annotated[bool, typer.Option(help="Print the headline tables as Markdown.")] = False,
    cluster: ClusterOption = None,
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

    from market import InvalidMarketError, MarketDataError
    from spotlight.cli.tables import models_markdown, models_table, years_markdown
    from spotlight.cluster import connect
    from spotlight.jobs.train import run_job

    cfg = load_config(config, label=label, model=model)
    say = lambda line: typer.echo(f"train: {line}", err=True)  # noqa: E731
    try:
        with connect(cluster, say=say) as client:
            market = open_market(data, client, say)
            with progress(TextColumn("{task.description:<36}"), TextColumn("{task.completed}/{task.total}")) as bar:
                task = bar.add_task("features", total=1)
                done = run_job(market, cfg, config_text=config.read_text() if config else None,
                               predictions_out=predictions_out, client=client,
                               progress=lambda stage, n, total: bar.update(task, description=stage, completed=n,
                                                                           total=total),
                               note=say)
    except CommandError as exc:
        raise fail_with(exc) from None
    except (InvalidMarketError, MarketDataError) as exc:  # a part found bad on a worker
        raise fail(str(exc)) from None
    result, logged = done.result, done.logged
    names = {"score": "lightgbm " + cfg.train.model}
    summaries = {names.get(k, k.removeprefix("baseline_")): e.summary for k, e in result.evaluations.items()}
    title = f"out of sample, {cfg.train.label_column}, {len(result.folds)} folds (monthly figures)"
    if markdown:
        typer.echo(models_markdown(summaries))
        typer.echo("")
        typer.echo(years_markdown(result.by_year))
    else:
        Console(width=140).print(models_table(summaries, title))
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


@commands.command(epilog="Example: spotlight daily --data demo/market-parts --cluster local:2 --test-months 24")
def daily(
    data: Annotated[Path, typer.Option(help="Market partitioned by symbol (spotlight partition).")],
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
    test_months: Annotated[int, typer.Option(min=1, help="Month-ends at the end of the market to test on.")] = 24,
    cluster: ClusterOption = None,
) -> None:
    """The daily-frequency model against the monthly one, out of sample.

    Builds the daily panel (every universe stock, every day) on the Dask cluster and trains
    LightGBM on it there (lightgbm.dask), and the monthly model on the month-ends of the same
    span; both are scored on the last --test-months month-ends, purged by the label's 21 days.
    Prints the comparison and logs one MLflow run. Exit 2: no cluster, a market that is not
    partitioned, or too short.
    """
    from rich.console import Console

    from market import InvalidMarketError, MarketDataError
    from spotlight.cli.common import is_partitioned
    from spotlight.cli.tables import models_table
    from spotlight.cluster import connect
    from spotlight.jobs.daily import run_job

    cfg = load_config(config)
    if not is_partitioned(data):
        raise fail(f"{data} is not partitioned by symbol: write it with spotlight partition", ExitCode.USAGE)
    say = lambda line: typer.echo(f"daily: {line}", err=True)  # noqa: E731
    try:
        with connect(cluster, say=say) as client:
            market = open_market(data, client, say)
            done = run_job(market, cfg, client, test_months=test_months, say=say)  # type: ignore[arg-type]
    except CommandError as exc:
        raise fail_with(exc) from None
    except (InvalidMarketError, MarketDataError) as exc:
        raise fail(str(exc)) from None
    c = done.comparison
    title = (f"out of sample, {cfg.train.label_column}, {len(c.test_dates)} month-ends "
             f"{c.test_dates[0]:%Y-%m}..{c.test_dates[-1]:%Y-%m}, trained to {c.train_end:%Y-%m-%d}")
    Console(width=140).print(models_table({f"{name} ({c.rows[name]} rows, {c.rounds[name]} trees)": e.summary
                                           for name, e in c.evaluations.items()}, title))
    typer.echo(f"run {done.run_id} (experiment {cfg.experiment}) at {done.tracking_uri}")


@commands.command(epilog="Example: spotlight backtest --predictions demo/oos_predictions.parquet --data demo/market "
                    "--report backtest.html")
def backtest(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    predictions: Annotated[Path | None, typer.Option(help="Parquet with date, symbol, score (e.g. train "
                                                          "--predictions-out).")] = None,
    run_id: Annotated[str | None, typer.Option(help="A training run whose out-of-sample predictions to use "
                                                    "(instead of --predictions); the backtest is nested under it.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file overriding the defaults ([backtest], [crowding], "
                                                     "[universe]).")] = None,
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
    from spotlight.jobs.backtest import run_job

    cfg = load_config(config)
    overrides = {"capital": capital, "top_n": top_n, "weighting": weighting, "participation": participation}
    try:
        done = run_job(data, cfg, predictions=predictions, run_id=run_id, overrides=overrides,
                       capacity=capacity_curve, report=report, daily_out=daily_out, log_mlflow=log_mlflow,
                       say=lambda step: typer.echo(f"backtest: {step}", err=True))
    except CommandError as exc:
        raise fail_with(exc) from None
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


@commands.command(epilog="Example: spotlight config --config my.toml > resolved.toml")
def config(
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
) -> None:
    """Print the resolved configuration as TOML: every key of every job with its value (the
    defaults, or the file's). Exit 2 naming the key of a bad file."""
    typer.echo(load_config(config).to_toml(), nl=False)
