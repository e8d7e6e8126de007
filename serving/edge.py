"""What the service checks before a request reaches it (ASGI middlewares).

:class:`BearerAuth`: when ``SPOTLIGHT_API_TOKEN`` is set (:mod:`serving.settings`, read once, when the app is
built), a request to any path
but ``/livez``, ``/readyz`` and ``/healthz`` must carry ``Authorization: Bearer <token>``;
otherwise it is answered 401 with ``WWW-Authenticate: Bearer`` before reaching the service.
Tokens are compared in constant time. Unset or empty: no check.

:class:`JsonOnly`: a POST whose ``Content-Type`` is given and is not ``application/json`` is
answered 415 (BentoML would parse forms, and answer 500 to a multipart body without a
boundary), and so is one with two ``Content-Type`` headers (BentoML reads the first) or a
non-ASCII byte in it (BentoML's access log would fail mid-answer); a POST without
``Content-Type`` is read as JSON. A POST whose ``Content-Length`` exceeds
``SPOTLIGHT_MAX_BODY_BYTES`` (default 64 MiB) is answered 413 before it is read; a chunked
POST (no ``Content-Length``) is counted as it streams in and answered 413 as soon as it passes
the limit, so at most that much is ever held. A body that stalls for more than
``SPOTLIGHT_BODY_TIMEOUT_SECONDS`` between two chunks is answered 408 (it was held until the
30 s request timeout answered 504). The request head is bounded before this, in
:mod:`serving.head_limits`.

:class:`JsonErrors`: the framework's plain-text 404 (unknown path) and 405 (wrong method) are
answered in the service's JSON error shape instead, naming the method, the path and the API;
BentoML's 400 ("1 validation error for RankRequestIODescriptor", each entry with a link to
pydantic's docs) says instead which request schema the body breaks and where:
"the body does not match the /rank request schema: top_n: Input should be a valid integer".
The scheme ``Bearer`` is matched case-insensitively.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Sequence
from typing import Any

from serving.settings import ServeSettings

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
PLAIN_ERRORS = {404: ("no such endpoint", "not_found"), 405: ("method not allowed", "method_not_allowed")}
ENDPOINTS = "the API: POST /rank, POST /rebalance, POST /score, GET /model, GET /monitor (docs at /, the spec at /docs.json)"


class BearerAuth:
    """Answer 401 unless the request carries the bearer token (see the module docstring)."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        token = token if token is not None else ServeSettings().api_token
        self.expected = token.encode() if token else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on, or answer 401."""
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        scheme, _, given = next((v for k, v in scope["headers"] if k == b"authorization"), b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.expected):
            await self.app(scope, receive, send)
            return
        await _answer(send, 401, "missing or wrong bearer token", ["header", "Authorization"],
                      "expected 'Bearer <token>'", "unauthorized", [(b"www-authenticate", b'Bearer realm="spotlight"')])


class JsonOnly:
    """Answer 415 to a POST that is not JSON, 413 to one over the byte limit and 408 to one
    whose body stalls."""

    def __init__(self, app: Any, max_bytes: int | None = None, idle_seconds: float | None = None) -> None:
        self.app = app
        settings = ServeSettings()
        self.max_bytes = settings.max_body_bytes if max_bytes is None else max_bytes
        self.idle_seconds = settings.body_timeout_seconds if idle_seconds is None else idle_seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on, or answer 415 or 413 before the service reads its body."""
        if scope["type"] == "http" and scope["method"] == "POST":
            types = [v for k, v in scope["headers"] if k == b"content-type"]
            if len(types) > 1:  # BentoML reads the first, this check would read another: refuse both
                await _answer(send, 415, f"one Content-Type header, got {len(types)}", ["header", "Content-Type"],
                              "expected one application/json", "unsupported_media_type")
                return
            given = types[0] if types else None
            if given is not None and (not given.isascii()
                                      or given.split(b";")[0].strip().lower() != b"application/json"):
                await _answer(send, 415, f"Content-Type must be application/json, got {given.decode('latin-1')!r}",
                              ["header", "Content-Type"], "expected application/json", "unsupported_media_type")
                return
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                await self._too_large(send, f"the body is {length.decode('latin-1')} bytes", ["header", "Content-Length"])
                return
            try:  # chunked or not: count the bytes as they arrive, then hand the body on
                body = await self._read_at_most(receive)
            except TimeoutError:
                await _answer(send, 408, f"the request body stalled for more than {self.idle_seconds:g} s "
                                         "(SPOTLIGHT_BODY_TIMEOUT_SECONDS)", ["body"],
                              f"send the body within {self.idle_seconds:g} s", "timeout", [(b"connection", b"close")])
                return
            if body is None:
                await self._too_large(send, f"the chunked body passed {self.max_bytes} bytes", ["body"])
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_at_most(self, receive: Any) -> bytes | None:
        """The whole body, or None as soon as it passes ``max_bytes`` (the rest is never read);
        TimeoutError when no chunk arrives for ``idle_seconds``."""
        chunks, size, more = [], 0, True
        while more:
            message = await asyncio.wait_for(receive(), self.idle_seconds)
            if message["type"] != "http.request":
                break  # the client went away; the service sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _too_large(self, send: Any, what: str, loc: list[str]) -> None:
        await _answer(send, 413, f"{what}; at most {self.max_bytes} (SPOTLIGHT_MAX_BODY_BYTES)", loc,
                      f"at most {self.max_bytes} bytes", "too_large")


class JsonErrors:
    """Answer an unknown path (404) or a wrong method (405) in the documented JSON error shape,
    where the framework answers plain text; its ``Allow`` header is kept."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on, rewriting a plain-text 404 or 405 as JSON."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced: list[tuple[bytes, bytes]] | None = None
        status = 0
        schema_error: tuple[dict, list[bytes]] | None = None

        async def json_errors(message: dict) -> None:
            nonlocal replaced, status, schema_error
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kind = dict(headers).get(b"content-type", b"")
                if message["status"] in PLAIN_ERRORS and not kind.startswith(b"application/json"):
                    status, replaced = message["status"], [(k, v) for k, v in headers if k.lower() == b"allow"]
                    return
                if message["status"] == 400 and kind.startswith(b"application/json"):
                    schema_error = (message, [])
                    return
            elif message["type"] == "http.response.body" and replaced is not None:
                if message.get("more_body"):
                    return  # the framework's text, dropped
                what, kind = PLAIN_ERRORS[status]
                await _answer(send, status, f"{what}: {scope['method']} {scope['path']}; {ENDPOINTS}",
                              ["path"] if status == 404 else ["method"], what, kind, replaced)
                return
            elif message["type"] == "http.response.body" and schema_error is not None:
                start, chunks = schema_error
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = _schema_error(b"".join(chunks), scope["path"])
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, json_errors)


def where(detail: list[dict[str, Any]], shown: int = 3, limit: int | None = None) -> str:
    """pydantic-style ``detail`` entries in one line: ``loc: msg`` for the first ``shown``
    (``body`` for an empty loc), cut at ``limit`` characters, then how many more."""
    parts = [f"{'.'.join(map(str, d.get('loc', []))) or 'body'}: {d.get('msg')}" for d in detail[:shown]]
    more = f" (and {len(detail) - shown} more)" if len(detail) > shown else ""
    return "; ".join(parts)[:limit] + more


def _schema_error(body: bytes, path: str) -> bytes:
    """BentoML's 400 body in the service's words (see the module docstring); another body as given."""
    try:
        error = json.loads(body)
        detail = [{k: v for k, v in d.items() if k != "url"} for d in error["detail"]]
        if not str(error["error"]).endswith("IODescriptor"):
            return body
    except (ValueError, KeyError, TypeError, AttributeError):
        return body
    return json.dumps({"error": f"the body does not match the {path} request schema: {where(detail)}",
                       "detail": detail}).encode()


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands ``body`` over once, then defers to the connection's."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(send: Any, status: int, message: str, loc: list[str], msg: str, kind: str,
                  headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message, "detail": [{"loc": loc, "msg": msg, "type": kind}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})
