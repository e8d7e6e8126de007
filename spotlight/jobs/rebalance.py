"""``spotlight rebalance``: ``POST /rebalance`` from the command line, on the served bundle.

Holdings (and a target under way) come from CSV files with the columns ``symbol, shares``
(whole shares, each symbol once); a bad file is refused naming its row and field, before
anything is read from the bundle. The answer is the endpoint's own
(:func:`serving.rebalance.rebalance`), written atomically to ``--out``: ``orders.csv``,
``target.csv`` and ``rebalance.json`` (the whole answer), or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from market.atomic import atomic_path
from serving.bundle import Bundle, BundleError, resolve
from serving.ranking import RequestError
from serving.rebalance import rebalance
from serving.schemas import Position, RebalanceRequest
from spotlight.exit_code import CommandError, ExitCode

ORDER_COLUMNS = ("symbol", "side", "reason", "shares", "price", "value", "commission", "stamp_duty", "impact",
                 "cost", "wanted_shares", "remaining_shares", "sessions_to_complete", "blocked")
TARGET_COLUMNS = ("symbol", "rank", "weight", "shares", "price", "value")


def read_positions(path: Path) -> list[Position]:
    """``symbol, shares`` rows of a CSV file; CommandError naming the file, row and field."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CommandError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in ("symbol", "shares") if c not in frame.columns]
    if missing:
        raise CommandError(f"{path}: missing column(s) {missing}; has {list(frame.columns)}")
    out = []
    for k, row in enumerate(frame.itertuples(index=False), start=2):  # row 1 is the header
        shares = str(row.shares).strip().replace("_", "")
        if not shares.isdigit():
            raise CommandError(f"{path} row {k}: shares {row.shares!r} is not a whole number of shares")
        try:
            out.append(Position(symbol=str(row.symbol).strip(), shares=int(shares)))
        except ValidationError as exc:
            error = exc.errors()[0]
            raise CommandError(f"{path} row {k}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    return out


def run(root: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``/rebalance`` for the request ``fields`` on the bundle served from ``root``."""
    try:
        request = RebalanceRequest.model_validate_json(json.dumps(fields))  # JSON, as the endpoint reads it
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"])) or "request"
        raise CommandError(f"{where}: {error['msg']}", ExitCode.USAGE) from None
    try:
        bundle = Bundle.load(resolve(root))
    except BundleError as exc:
        raise CommandError(f"{exc} (serve or publish a bundle first: spotlight retrain, spotlight refresh)") from None
    try:
        return rebalance(bundle, request)
    except RequestError as exc:
        raise CommandError(exc.message, ExitCode.USAGE if exc.status in (404, 422) else ExitCode.FAILED) from None


def write(answer: dict[str, Any], out: Path) -> None:
    """``orders.csv``, ``target.csv`` and ``rebalance.json`` into ``out``, all or nothing."""
    with atomic_path(out, directory=True) as tmp:
        pd.DataFrame(answer["orders"], columns=list(ORDER_COLUMNS)).to_csv(tmp / "orders.csv", index=False)
        pd.DataFrame(answer["target"], columns=list(TARGET_COLUMNS)).to_csv(tmp / "target.csv", index=False)
        (tmp / "rebalance.json").write_text(json.dumps(answer, indent=1), encoding="utf-8")
