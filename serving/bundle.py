"""Load a serving bundle (see :mod:`release.export`): verify it, score it once, index it by date.

Loading reads only JSON, ONNX and Parquet. It refuses, naming the file and field at fault:
a missing file, a manifest without a required field or of another schema version, a file
whose SHA-256 differs from the manifest, a snapshot lacking a feature column, and a model
whose scores differ from the export-time scores stored in the snapshot (relative to their
spread, by more than ``SCORE_TOL``: a different onnxruntime or a damaged file).

Each served date becomes a :class:`Book`: its universe members sorted by (score desc,
symbol), and the other listed stocks sorted by symbol, as column arrays, so a ranking request
only filters and slices. Each member's drivers carry the feature's readable label (from the
manifest), the contribution to 6 decimals and the raw value to 4 significant digits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from orders import TradingRules
from serving.scorer import OnnxScorer

MANIFEST, MODEL, SNAPSHOT = "manifest.json", "model.onnx", "snapshot.parquet"
CURRENT = "current"  # in a serving root, the link to the bundle being served (see release.publish)
MONITOR = "monitor.json"  # in a serving root, the live model's report (spotlight monitor writes it)
SCHEMA_VERSION = 1
SCORE_TOL = 1e-6
N_DRIVERS = 3
INFO = ("symbol", "board", "industry", "market_cap", "median_amount_20")
# what the next session allows (features.tradability); absent from bundles exported before /rebalance
TRADABILITY = ("close", "suspended", "limit_up_locked", "limit_down_locked", "median_amount_market_20")


class BundleError(Exception):
    """A bundle that cannot be served; the message names the file and what is wrong."""


class ModelInfo(BaseModel):
    """The exported model: registered name, version, training run and aliases at export."""

    model_config = ConfigDict(extra="allow")
    name: str
    version: str
    run_id: str
    aliases: list[str] = []


class CrowdingDay(BaseModel):
    """One served date's crowding gauges, their percentiles and the regime."""

    regime: Literal["unknown", "normal", "elevated", "crowded"]
    turnover_share: float | None
    turnover_share_pctile: float | None
    bp_spread: float | None
    bp_spread_pctile: float | None


class CrowdingInfo(BaseModel):
    """The crowding rule and each served date's regime."""

    rule: dict[str, float]
    by_date: dict[dt.date, CrowdingDay]


class Manifest(BaseModel):
    """The fields the service relies on (the manifest holds more; they are kept as given)."""

    model_config = ConfigDict(extra="allow")
    schema_version: int
    bundle_id: str
    model: ModelInfo
    features: list[str]
    lookback: dict[str, int]
    transform: str
    universe: dict[str, Any]
    label: str
    train_window: dict[str, str]
    dates: list[dt.date]
    files: dict[str, str]
    exported_at: str
    crowding: CrowdingInfo | None = None  # absent from bundles exported before the crowding flag
    currency: str | None = None  # absent from bundles exported before it: "the market's currency"
    feature_labels: dict[str, str] = {}  # absent from older bundles: drivers are labelled by name
    trading: TradingRules | None = None  # absent from bundles exported before /rebalance


@dataclass(frozen=True)
class Tradability:
    """What the next session allows every listed stock of a date: members first (score order),
    then the others (symbol order), as in :mod:`features.tradability`."""

    symbol: np.ndarray
    score: np.ndarray      # NaN outside the universe
    reason: np.ndarray     # None for members, else the exclusion reason
    close: np.ndarray
    suspended: np.ndarray
    limit_up_locked: np.ndarray
    limit_down_locked: np.ndarray
    median_amount: np.ndarray  # median_amount_market_20


@dataclass(frozen=True)
class Book:
    """One served date. ``m_*`` arrays: universe members by (score desc, symbol); ``o_*``: the
    other listed stocks by symbol. ``m_cap_order`` ranks members by (market cap, symbol)."""

    date: dt.date
    m_symbol: np.ndarray
    m_score: np.ndarray
    m_board: np.ndarray
    m_industry: np.ndarray
    m_cap: np.ndarray
    m_cap_order: np.ndarray
    m_amount: np.ndarray
    m_drivers: list[list[dict[str, Any]]]
    o_symbol: np.ndarray
    o_reason: np.ndarray
    o_board: np.ndarray
    o_industry: np.ndarray
    o_cap: np.ndarray
    o_amount: np.ndarray
    trading: Tradability | None = None  # None for a bundle exported before /rebalance

    @property
    def size(self) -> int:
        """Universe members on the date."""
        return len(self.m_symbol)


def resolve(path: str | Path) -> Path:
    """The bundle directory ``path`` means: ``path/current`` for a serving root, else ``path``."""
    path = Path(path)
    link = path / CURRENT
    return link.resolve() if link.is_symlink() else path


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if v != v else float(v) for v in values]


def _text(values: pd.Series) -> np.ndarray:
    return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)


def significant(value: float, digits: int = 4) -> float | None:
    """``value`` to ``digits`` significant digits (None for NaN): what a reader needs of a raw
    feature value or a gauge, whatever its scale."""
    return None if value != value else float(f"{value:.{digits}g}")


def make_book(day: pd.DataFrame, scores: np.ndarray, labels: dict[str, str]) -> Book:
    """One served date's :class:`Book` from its snapshot rows and its members' scores (NaN elsewhere)."""
    members = day["in_universe"].to_numpy(bool)
    m, o = day[members], day[~members]
    m_scores = scores[members]
    order = np.lexsort((m["symbol"].to_numpy(), -m_scores))
    m = m.iloc[order]
    cap = m["market_cap"].to_numpy(np.float64)
    cap_order = np.empty(len(m), np.int64)
    cap_order[np.lexsort((m["symbol"].to_numpy(), cap))] = np.arange(len(m))
    drivers = []
    columns = [(m[f"driver{k}_feature"].to_numpy(), m[f"driver{k}_contribution"].to_numpy(np.float64),
                m[f"driver{k}_value"].to_numpy(np.float64)) for k in range(1, N_DRIVERS + 1)]
    for i in range(len(m)):
        drivers.append([{"feature": str(f[i]), "label": labels.get(str(f[i]), str(f[i])),
                         "contribution": round(float(c[i]), 6), "value": significant(v[i])}
                        for f, c, v in columns if f[i] is not None])
    o = o.sort_values("symbol", kind="stable")
    trading = None
    if all(c in day.columns for c in TRADABILITY):
        both = pd.concat([m, o])
        trading = Tradability(
            symbol=both["symbol"].to_numpy(str).astype(object),
            score=np.concatenate([m_scores[order], np.full(len(o), np.nan)]),
            reason=np.concatenate([np.full(len(m), None, dtype=object), _text(o["exclusion_reason"])]),
            close=both["close"].to_numpy(np.float64), suspended=both["suspended"].to_numpy(bool),
            limit_up_locked=both["limit_up_locked"].to_numpy(bool),
            limit_down_locked=both["limit_down_locked"].to_numpy(bool),
            median_amount=both["median_amount_market_20"].to_numpy(np.float64))
    return Book(
        date=day["date"].iloc[0].date(), m_symbol=m["symbol"].to_numpy(str).astype(object),
        m_score=m_scores[order], m_board=_text(m["board"]), m_industry=_text(m["industry"]), m_cap=cap,
        m_cap_order=cap_order, m_amount=m["median_amount_20"].to_numpy(np.float64), m_drivers=drivers,
        o_symbol=o["symbol"].to_numpy(str).astype(object), o_reason=_text(o["exclusion_reason"]),
        o_board=_text(o["board"]), o_industry=_text(o["industry"]), o_cap=o["market_cap"].to_numpy(np.float64),
        o_amount=o["median_amount_20"].to_numpy(np.float64), trading=trading)


@dataclass(frozen=True)
class Bundle:
    """A verified, scored bundle: the manifest, the ONNX scorer and one :class:`Book` per date."""

    path: Path
    manifest: Manifest
    raw_manifest: dict[str, Any]
    scorer: OnnxScorer
    books: dict[dt.date, Book]
    load_seconds: float

    @property
    def dates(self) -> list[dt.date]:
        """Served dates, oldest first."""
        return sorted(self.books)

    def crowding(self, day: dt.date) -> dict[str, Any] | None:
        """The segment's crowding on ``day`` (see :mod:`features.crowding`), or None for a bundle
        exported without it."""
        info = self.manifest.crowding
        if info is None:
            return None
        gauges = {k: significant(v) if isinstance(v, float) else v for k, v in info.by_date[day].model_dump().items()}
        return {"date": day.isoformat(), **gauges}

    @classmethod
    def load(cls, path: str | Path, threads: int = 1) -> Bundle:
        """Load, verify and score the bundle at ``path`` (see the module docstring); BundleError names the fault."""
        import time

        start = time.perf_counter()
        path = Path(path)
        if not path.is_dir():
            raise BundleError(f"{path}: no bundle directory here (export one with: spotlight export --out {path})")
        for name in (MANIFEST, MODEL, SNAPSHOT):
            if not (path / name).is_file():
                raise BundleError(f"{path}: {name} is missing")
        try:
            raw = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            manifest = Manifest.model_validate(raw)
        except json.JSONDecodeError as exc:
            raise BundleError(f"{path / MANIFEST}: not valid JSON ({exc})") from None
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise BundleError(f"{path / MANIFEST}: {fields}") from None
        if manifest.schema_version != SCHEMA_VERSION:
            raise BundleError(f"{path / MANIFEST}: schema_version {manifest.schema_version}, this service reads "
                              f"{SCHEMA_VERSION}")
        for name in (MODEL, SNAPSHOT):
            expected = manifest.files.get(name)
            if expected is None:
                raise BundleError(f"{path / MANIFEST}: files.{name} (its SHA-256) is missing")
            if sha256(path / name) != expected:
                raise BundleError(f"{path / name}: SHA-256 differs from the manifest's; the bundle is damaged "
                                  "or was changed after export")
        scorer = OnnxScorer((path / MODEL).read_bytes(), threads=threads)
        features = manifest.features
        if scorer.n_features != len(features):
            raise BundleError(f"{path / MODEL}: takes {scorer.n_features} features, the manifest lists {len(features)}")
        snap = pd.read_parquet(path / SNAPSHOT)
        needed = ["date", "in_universe", "exclusion_reason", "onnx_score", *INFO, *features,
                  *(f"driver{k}_{p}" for k in range(1, N_DRIVERS + 1) for p in ("feature", "contribution", "value"))]
        missing = [c for c in needed if c not in snap.columns]
        if missing:
            raise BundleError(f"{path / SNAPSHOT}: missing column(s) {missing}")
        members = snap["in_universe"].to_numpy(bool)
        scores = np.full(len(snap), np.nan)
        scores[members] = scorer.score(snap.loc[members, features].to_numpy(np.float32))
        stored = snap["onnx_score"].to_numpy(np.float64)
        if members.any():
            spread = float(np.ptp(stored[members])) or 1.0
            worst = float(np.max(np.abs(scores[members] - stored[members]))) / spread
            if not worst <= SCORE_TOL:
                raise BundleError(f"{path / MODEL}: scores differ from the export-time scores by {worst:.3g} of "
                                  f"their spread (limit {SCORE_TOL:g}); onnxruntime here is {onnxruntime.__version__}, "
                                  f"at export {raw.get('libraries', {}).get('onnxruntime', 'unknown')}")
        snap_dates = pd.to_datetime(snap["date"]).dt.date
        books = {}
        for day, rows in snap.groupby(snap_dates.to_numpy(), sort=True):
            books[day] = make_book(rows, scores[rows.index.to_numpy()], manifest.feature_labels)
        if sorted(books) != sorted(manifest.dates):
            raise BundleError(f"{path / SNAPSHOT}: dates {sorted(books)[:3]}... differ from the manifest's dates")
        if manifest.crowding is not None and set(manifest.crowding.by_date) != set(manifest.dates):
            raise BundleError(f"{path / MANIFEST}: crowding.by_date covers other dates than the manifest's dates")
        return cls(path, manifest, raw, scorer, books, time.perf_counter() - start)
