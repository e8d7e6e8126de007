"""The service's OpenAPI document and docs page, made to agree with what the service does.

BentoML generates a spec from the request and response models; :func:`document` rewrites it:

- ``info``: what Spotlight is, the model and dates being served, the units (money in the
  manifest's currency, whole units; every share and percentile a fraction), the error shape
  and the token, instead of BentoML's boilerplate and ``version: None``;
- responses: every status each endpoint can answer (400, 401 with a token, 404, 408, 413, 415,
  422, 431), each with the one JSON error shape the service answers
  (``{"error": message, "detail": [{"loc", "msg", "type"}]}``, ``detail`` a list);
- the request body: fields that accept ``null`` say so (``as_of``, ``universe``, ``exclude``
  mean "not given"), and ``universe`` states its exactly-one-of rule (``oneOf``);
- examples built from the served bundle (its dates, universe size, boards and features), so
  every documented example is a request the service answers 200 (a test posts each one).

:func:`page` is the docs page at ``/``: what Spotlight is, then Swagger UI (BentoML's bundled
copy, served locally) over ``/docs.json``; no third-party script or tracker.
"""

from __future__ import annotations

import copy
import html
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from serving.bundle import Bundle

ERROR = "Error"
SERVER_ERROR = "ServerError"
STATUS = {
    400: "The body is not JSON or breaks the request schema; `detail[].loc` is the field path.",
    401: "No or a wrong bearer token (`Authorization: Bearer <token>`).",
    404: "/rank, /rebalance: `as_of` is not a served date (the message lists them); /monitor: no report yet.",
    408: "The body stalled between two chunks for longer than SPOTLIGHT_BODY_TIMEOUT_SECONDS.",
    409: "/rebalance on a bundle exported before orders could be made (no trading state): publish a fresh one.",
    413: "More /score rows than SPOTLIGHT_MAX_ROWS, or a body over SPOTLIGHT_MAX_BODY_BYTES.",
    415: "The body is not `application/json` (one ASCII Content-Type header, or none).",
    422: "A well-formed request this bundle cannot answer: `universe.smallest_n` beyond the model's universe, "
         "an unknown, missing or out-of-range feature value, a /rebalance holding or target symbol not listed "
         "on `as_of` or given twice.",
    431: "The request head (request line and headers) is over SPOTLIGHT_MAX_HEADER_BYTES.",
}
ERRORS = {"/rank": (400, 404, 408, 413, 415, 422, 431), "/score": (400, 408, 413, 415, 422, 431),
          "/rebalance": (400, 404, 408, 409, 413, 415, 422, 431), "/model": (431,), "/monitor": (404, 431)}


def _error_schemas() -> dict[str, Any]:
    part = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    entry = {"type": "object", "required": ["loc", "msg", "type"],
             "properties": {"loc": {"type": "array", "items": part, "description": "Where: the field path "
                                    "(`[\"universe\", \"smallest_n\"]`), `header`, `body` or `path`."},
                            "msg": {"type": "string"}, "type": {"type": "string", "description": "A code: "
                                                                "`int_type`, `not_found`, `too_large`, ..."}}}
    return {
        ERROR: {"type": "object", "required": ["error", "detail"], "description": "Every 4xx answer.",
                "properties": {"error": {"type": "string", "description": "What is wrong, in one sentence."},
                               "detail": {"type": "array", "items": entry}}},
        SERVER_ERROR: {"type": "object", "required": ["error"], "description": "A 5xx answer (see the server log).",
                       "properties": {"error": {"type": "string"}}},
    }


def _describe(bundle: Bundle, token: bool) -> str:
    m = bundle.manifest
    dates = bundle.dates
    money = m.currency or "the market's currency"
    lines = [
        "Spotlight ranks a market's micro-caps (its smallest listed stocks) by how likely each is to be "
        "*noticed* next month: a cheap, overlooked stock with stable owners that starts to draw "
        "price-volume interest, then is re-rated as the market's attention shifts to it. The model is "
        "LightGBM on point-in-time turnover, price-volume, valuation and ownership features, validated "
        "walk-forward out of sample, exported to ONNX; the ranking of each served date is scored when "
        "the bundle loads.",
        "",
        f"**Serving** model `{m.model.name}` version {m.model.version} (bundle `{m.bundle_id}`, label "
        f"`{m.label}`, trained on {m.train_window.get('start')}..{m.train_window.get('end')}), "
        f"{len(dates)} month-end dates {dates[0]}..{dates[-1]}. `GET /model` gives the features, metrics "
        "and data fingerprints.",
        "",
        f"**Units.** Money (`market_cap`, `median_amount_20`, `max_position`, `cap_band`) is in {money}, "
        "whole units (not thousands); each ranking names it in `currency`. Shares, caps and percentiles "
        "are fractions: `participation_cap` 0.1 = 10% of the median daily amount, `percentile` 1 = top.",
        "",
        "**Errors** are JSON `{\"error\": message, \"detail\": [{\"loc\", \"msg\", \"type\"}]}`; "
        "the status says which kind (each endpoint lists its own).",
    ]
    if token:
        lines += ["", "**Token.** Every endpoint but /livez, /readyz and /healthz needs "
                      "`Authorization: Bearer <token>` (Authorize, above)."]
    return "\n".join(lines)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` accepting null too, in OpenAPI 3.0's words."""
    if "$ref" in schema:
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {"allOf": [{"$ref": schema["$ref"]}], "nullable": True, **rest}
    return {**schema, "nullable": True}


def _rank_examples(bundle: Bundle) -> dict[str, Any]:
    latest = bundle.books[bundle.dates[-1]]
    earlier = bundle.dates[-2] if len(bundle.dates) > 1 else bundle.dates[-1]
    caps = latest.m_cap[~np.isnan(latest.m_cap)]
    out: dict[str, Any] = {
        "latest": {"summary": "The latest served date, top 50", "value": {}},
        "top20": {"summary": "Top 20, trading over 5 days at 5% of the median amount",
                  "value": {"top_n": 20, "participation_cap": 0.05, "days": 5}},
    }
    smallest: dict[str, Any] = {"as_of": str(earlier), "top_n": 20,
                                "universe": {"smallest_n": max(1, min(200, bundle.books[earlier].size))}}
    boards = sorted({b for b in latest.m_board if b is not None})
    if len(boards) > 1:
        smallest["exclude"] = {"boards": boards[-1:]}
    out["smallest"] = {"summary": "An earlier date: the smallest names, one board excluded", "value": smallest}
    if len(caps) > 1 and np.quantile(caps, 0.25) < np.quantile(caps, 0.75):
        low, high = (float(round(np.quantile(caps, q), -6)) for q in (0.25, 0.75))
        if low < high:
            out["cap_band"] = {"summary": "Members with a market cap inside a band (currency units)",
                               "value": {"top_n": 10, "universe": {"cap_band": [low, high]}}}
    out["excluded"] = {"summary": "Top 5, then every excluded stock with its reason",
                       "value": {"top_n": 5, "include_excluded": True}}
    return out


def _score_examples(bundle: Bundle) -> dict[str, Any]:
    row = {"symbol": "EXAMPLE", **{f: 0.5 for f in bundle.manifest.features}}
    return {"median": {"summary": "One stock at the middle of the universe on every feature", "value": {"rows": [row]}}}


def _rebalance_examples(bundle: Bundle) -> dict[str, Any]:
    latest = bundle.books[bundle.dates[-1]]
    out: dict[str, Any] = {"cash": {"summary": "A new book of 100 m: the top 100, equal weights",
                                    "value": {"capital": 1e8}}}
    held = [{"symbol": str(s), "shares": 10_000} for s in latest.m_symbol[10:20]]
    if len(latest.o_symbol):
        held.append({"symbol": str(latest.o_symbol[0]), "shares": 5_000})
    out["book"] = {"summary": "A book with holdings (one outside the universe), top 50 by score, 5% participation",
                   "value": {"capital": 2e7, "holdings": held, "top_n": 50, "weighting": "score",
                             "participation": 0.05}}
    return out


def document(spec: dict[str, Any], bundle: Bundle, *, token: bool = False) -> dict[str, Any]:
    """BentoML's ``spec`` rewritten to agree with the service (see the module docstring)."""
    doc = copy.deepcopy(spec)
    try:
        release = version("spotlight")
    except PackageNotFoundError:  # run from a source tree that was not installed
        release = "unknown"
    doc["info"] = {"title": "Spotlight: micro-cap attention ranking",
                   "version": f"{release} (model {bundle.manifest.model.name} v{bundle.manifest.model.version})",
                   "description": _describe(bundle, token)}
    doc.pop("servers", None)  # BentoML's "." : the page's own origin is meant
    doc["tags"] = [{"name": "Spotlight", "description": "Rankings, scores, and what is served."},
                   {"name": "Infrastructure", "description": "Health checks and Prometheus metrics."}]
    for path in ERRORS:
        for operation in doc.get("paths", {}).get(path, {}).values():
            operation["tags"] = ["Spotlight"]
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for stale in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(stale, None)
    schemas.update(_error_schemas())
    if token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    examples = {"/rank": _rank_examples(bundle), "/score": _score_examples(bundle),
                "/rebalance": _rebalance_examples(bundle)}
    for path, statuses in ERRORS.items():
        for operation in doc.get("paths", {}).get(path, {}).values():
            responses = {str(k): v for k, v in operation.get("responses", {}).items() if str(k).startswith("2")}
            for status in (*statuses, *((401,) if token else ())):
                responses[str(status)] = {"description": STATUS[status],
                                          "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}}
            responses["500"] = {"description": "An unexpected server error (see the server log).",
                                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{SERVER_ERROR}"}}}}
            operation["responses"] = dict(sorted(responses.items()))
            if token:
                operation["security"] = [{"bearer": []}]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            body["examples"] = examples[path]
            properties = body.get("schema", {}).get("properties", {})
            for name, field in list(properties.items()):
                if "default" in field and field["default"] is None:
                    properties[name] = _nullable(field)
    return doc


def page(bundle: Bundle) -> str:
    """The docs page at ``/``: a short introduction, then Swagger UI over ``/docs.json``."""
    m = bundle.manifest
    what = html.escape(f"model {m.model.name} version {m.model.version}, {len(bundle.dates)} dates "
                       f"{bundle.dates[0]}..{bundle.dates[-1]}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Spotlight: micro-cap attention ranking</title>
<link rel="stylesheet" href="./static_content/swagger-ui.css">
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; }}
header {{ max-width: 1460px; margin: 0 auto; padding: 24px 20px 0; }}
header h1 {{ margin: 0 0 8px; font-size: 28px; }}
header p {{ margin: 4px 0; max-width: 960px; line-height: 1.5; }}
</style>
</head>
<body>
<header>
<h1>Spotlight</h1>
<p>Ranks a market's micro-caps by how likely each is to be noticed, and re-rated, next month.
Serving {what}. <code>POST /rank</code> for a ranking, <code>POST /rebalance</code> for a target portfolio
and the next session's orders, <code>POST /score</code> to score feature rows,
<code>GET /model</code> for what is served; the OpenAPI document is at <a href="./docs.json">/docs.json</a>.</p>
</header>
<div id="swagger-ui"></div>
<script src="./static_content/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "./docs.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout", tryItOutEnabled: true}});
</script>
</body>
</html>
"""
