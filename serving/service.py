"""The ranking service (BentoML 1.4): ``POST /rank``, ``POST /score``, ``POST /rebalance``,
``GET /model``, ``GET /monitor``.

Run it with ``spotlight serve`` (or ``bentoml serve serving.service:Spotlight``). Settings
(:class:`~serving.settings.ServeSettings`) come from ``SPOTLIGHT_*`` environment variables,
read when the service starts. The bundle (``SPOTLIGHT_BUNDLE``: a bundle directory, or a
serving root whose ``current`` link names one, see :mod:`release.publish`) is loaded once:
verified, scored by ONNX and indexed by date, so ``/rank`` only filters and slices. A serving
root's ``current`` is checked every ``SPOTLIGHT_RELOAD_SECONDS``: a newly published bundle is
loaded beside the old one and swapped in with one reference assignment, so each request is
answered wholly by the old or wholly by the new one. A bundle that fails to load is logged
and skipped; the old one keeps serving. With ``SPOTLIGHT_API_TOKEN`` set, every endpoint but
``/livez``, ``/readyz`` and ``/healthz`` needs ``Authorization: Bearer <token>`` (401
otherwise).

Status codes, each error a JSON body ``{"error": message, "detail": [{"loc", "msg", "type"}]}``:
400 the body breaks the schema (BentoML's pydantic validation; ``loc`` is the field path),
401 no or a wrong token, 404 ``as_of`` is not a served date (the message lists them) or an
unknown path, 405 a wrong method, 409 a ``/rebalance`` on a bundle exported before orders, 408 a request head or body too slow, 413 more ``/score``
rows or body bytes than the maximum, 415 a POST body that is not JSON, 422 a well-formed
request this bundle cannot answer (an unknown, missing or out-of-range feature value,
``smallest_n`` beyond the model's universe, a ``/rebalance`` holding not listed on ``as_of``), 431 a request head over the maximum.
``GET /`` is the docs page and ``GET /docs.json`` the OpenAPI document, both from
:mod:`serving.openapi` (each example in it answers 200).
The service imports no training code, MLflow or LightGBM, and reads no pickle.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

import bentoml
from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, JSONResponse, Response

from serving.bentoml_patches import cancel_timeout_timers, quiet_client_errors
from serving.bundle import CURRENT, MONITOR, Bundle, BundleError, resolve
from serving.edge import BearerAuth, JsonErrors, JsonOnly
from serving.head_limits import limit_request_heads
from serving.openapi import document, page
from serving.ranking import RequestError
from serving.ranking import rank as rank_bundle
from serving.ranking import score as score_bundle
from serving.rebalance import rebalance as rebalance_book
from serving.schemas import (
    MonitorReport,
    RankRequest,
    RankResponse,
    RebalanceRequest,
    RebalanceResponse,
    ScoreRequest,
    ScoreResponse,
)
from serving.settings import ServeSettings

logger = logging.getLogger("spotlight.service")
web = FastAPI(title="Spotlight model", openapi_url=None, docs_url=None, redoc_url=None)


class ModelSummary(BaseModel):
    """What is being served: the model, its features and data, and how it was checked."""

    model: dict[str, Any]
    bundle_id: str
    exported_at: str
    features: list[dict[str, Any]]
    transform: str
    universe: dict[str, Any]
    label: str
    train_window: dict[str, str]
    metrics: dict[str, float]
    dates: list[str]
    training_data: dict[str, Any]
    snapshot_data: dict[str, Any]
    parity: dict[str, Any]
    crowding: dict[str, Any] | None = Field(description="The crowding rule and each served date's regime "
                                                        "(null for a bundle exported before it).")
    currency: str | None = Field(description="ISO 4217 code of every money amount (null for an older bundle).")
    trading: dict[str, Any] | None = Field(description="Board lot, default participation and costs /rebalance "
                                                       "uses (null for a bundle exported before it).")
    libraries: dict[str, str]
    runtime: dict[str, Any]


def _error(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _json(body: dict[str, Any]) -> Response:
    """The body as JSON, skipping pydantic's re-validation of our own output (tests check the
    bodies against the response models)."""
    return Response(json.dumps(body, allow_nan=False, separators=(",", ":")), media_type="application/json")


def summary(bundle: Bundle, max_rows: int) -> dict[str, Any]:
    """The body of ``GET /model``."""
    m, raw = bundle.manifest, bundle.raw_manifest
    return {"model": m.model.model_dump(), "bundle_id": m.bundle_id, "exported_at": m.exported_at,
            "features": [{"name": n, "lookback": m.lookback.get(n)} for n in m.features],
            "transform": m.transform, "universe": m.universe, "label": m.label, "train_window": m.train_window,
            "metrics": raw.get("metrics", {}), "dates": [str(d) for d in bundle.dates],
            "training_data": raw.get("training_data", {}), "snapshot_data": raw.get("snapshot_data", {}),
            "parity": raw.get("parity", {}), "libraries": raw.get("libraries", {}),
            "crowding": raw.get("crowding"), "currency": m.currency,
            "trading": m.trading.model_dump() if m.trading else None,
            "runtime": {"onnxruntime": version("onnxruntime"), "bentoml": version("bentoml"),
                        "bundle": bundle.path.name, "load_seconds": round(bundle.load_seconds, 3),
                        "max_rows": max_rows}}


@bentoml.service(name="spotlight", traffic={"timeout": 30})
@bentoml.asgi_app(web, path="/")
class Spotlight:
    """Ranks the micro-cap universe from one exported bundle."""

    def __init__(self) -> None:
        settings = ServeSettings()
        logger.setLevel(logging.INFO)  # BentoML's server logging keeps the root at WARNING: show reloads, refusals
        self.source = settings.bundle
        self.bundle = Bundle.load(resolve(self.source))
        self.max_rows = settings.max_rows
        self.token = bool(settings.api_token)
        cancel_timeout_timers()
        quiet_client_errors()
        if not limit_request_heads(settings.max_header_bytes, settings.header_timeout_seconds):
            logger.warning("request heads are not bounded: uvicorn's httptools protocol is not the expected shape")
        gc.collect()
        gc.freeze()  # the bundle and the libraries are long-lived: keep them out of every later GC pass
        seconds = settings.reload_seconds
        self._stop = threading.Event()
        if seconds > 0:
            threading.Thread(target=self._watch, args=(seconds,), name="bundle-reload", daemon=True).start()

    def _watch(self, seconds: float) -> None:
        """Swap in a newly published bundle (see the module docstring)."""
        loaded, failed = self.bundle.path.resolve(), None
        while not self._stop.wait(seconds):
            try:
                target = resolve(self.source).resolve()
                if target in (loaded, failed):
                    continue
                fresh = Bundle.load(target)
            except BundleError as exc:  # a bad bundle: skip it until another is published
                logger.error("bundle reload skipped, still serving %s: %s", loaded.name, exc)
                failed = target
                continue
            except (OSError, ValueError) as exc:  # e.g. pruned or mid-write: try again next time
                logger.warning("bundle reload will retry, still serving %s: %s", loaded.name, exc)
                continue
            self.bundle = fresh  # one assignment: a request sees the old bundle or the new one
            loaded = target
            logger.info("serving bundle %s (model version %s)", target.name, fresh.manifest.model.version)
            gc.unfreeze()  # let the old bundle's cycles be collected, then freeze what lives on
            gc.collect()
            gc.freeze()

    @bentoml.api(route="/rank", input_spec=RankRequest)
    async def rank(self, **request: Any) -> RankResponse:
        """Rank the universe on ``as_of`` (default: the latest served date): the top ``top_n``
        with score, rank, percentile, the three strongest drivers and liquidity."""
        try:
            # self.bundle is read once; the annotation is the OpenAPI schema, the body already serialised (_json)
            return _json(rank_bundle(self.bundle, RankRequest.model_validate(request)))  # type: ignore[return-value]
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, **request: Any) -> ScoreResponse:
        """Score rows of model-input features (names from GET /model) with the ONNX model."""
        try:
            return _json(score_bundle(self.bundle, ScoreRequest.model_validate(request), self.max_rows))  # type: ignore[return-value]
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]

    @bentoml.api(route="/rebalance", input_spec=RebalanceRequest)
    def rebalance(self, **request: Any) -> RebalanceResponse:
        """The target portfolio of ``as_of`` (default: the latest served date) for a book of
        ``capital`` and ``holdings``, and the next session's orders: whole board lots, capped per
        stock at ``participation`` of its median traded amount (the rest carried, with the
        sessions it takes), no buy when suspended or limit-up-locked, no sell when suspended or
        limit-down-locked, leavers sold with their reason, costs estimated as the backtest does."""
        try:
            return _json(rebalance_book(self.bundle, RebalanceRequest.model_validate(request)))  # type: ignore[return-value]
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]

    @web.get("/docs.json", include_in_schema=False)
    def openapi(self) -> JSONResponse:
        """The OpenAPI document (:func:`serving.openapi.document`), in place of BentoML's."""
        spec = Spotlight.openapi_spec.asdict()  # type: ignore[attr-defined]  # Spotlight is BentoML's Service here
        return JSONResponse(document(spec, self.bundle, token=self.token))

    @web.get("/", include_in_schema=False)
    def docs(self) -> HTMLResponse:
        """The docs page (:func:`serving.openapi.page`), in place of BentoML's."""
        return HTMLResponse(page(self.bundle))

    @web.get("/monitor", response_model=MonitorReport)
    def monitor(self) -> Response:
        """How the live model is doing: realised RankIC and top-N excess return of each served date
        whose horizon has passed, feature drift, crowding and the alert state (404 before
        ``spotlight monitor`` or ``spotlight refresh`` has written the report)."""
        root = Path(self.source)
        path = root / MONITOR
        if not (root / CURRENT).is_symlink() or not path.is_file():
            where = "this serving root" if (root / CURRENT).is_symlink() else "a single bundle (serve a serving root)"
            return JSONResponse({"error": f"no monitor report for {where}: spotlight monitor writes one",
                                 "detail": [{"loc": ["path"], "msg": "no report yet", "type": "not_found"}]},
                                status_code=404)
        return Response(path.read_bytes(), media_type="application/json")

    @web.get("/model", response_model=ModelSummary)
    def model(self) -> dict[str, Any]:
        """The served model: version, run, features, training window, metrics, dates, parity."""
        return summary(self.bundle, self.max_rows)


# bentoml.service adds add_asgi_middleware to the class it returns
Spotlight.add_asgi_middleware(BearerAuth)  # type: ignore[attr-defined]  # outermost: no token, no further answer
Spotlight.add_asgi_middleware(JsonOnly)  # type: ignore[attr-defined]
Spotlight.add_asgi_middleware(JsonErrors)  # type: ignore[attr-defined]
