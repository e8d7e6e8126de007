"""What the service checks before a request reaches it (ASGI middlewares).

:class:`BearerAuth`: when ``SPOTLIGHT_API_TOKEN`` is set (read once, when the app is built), a request to any path
but ``/livez``, ``/readyz`` and ``/healthz`` must carry ``Authorization: Bearer <token>``;
otherwise it is answered 401 with ``WWW-Authenticate: Bearer`` before reaching the service.
Tokens are compared in constant time. Unset or empty: no check.

:class:`JsonOnly`: a POST whose ``Content-Type`` is given and is not ``application/json`` is
answered 415 (BentoML would parse forms, and answer 500 to a multipart body without a
boundary). A POST without ``Content-Type`` is read as JSON.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

TOKEN_ENV = "SPOTLIGHT_API_TOKEN"
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


class BearerAuth:
    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        await _answer(send, 401, "missing or wrong bearer token", ["header", "Authorization"],
                      "expected 'Bearer <token>'", "unauthorized", [(b"www-authenticate", b'Bearer realm="spotlight"')])


class JsonOnly:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            given = next((v for k, v in scope["headers"] if k == b"content-type"), None)
            if given is not None and given.split(b";")[0].strip().lower() != b"application/json":
                await _answer(send, 415, f"Content-Type must be application/json, got {given.decode('latin-1')!r}",
                              ["header", "Content-Type"], "expected application/json", "unsupported_media_type")
                return
        await self.app(scope, receive, send)


async def _answer(send: Any, status: int, message: str, loc: list[str], msg: str, kind: str,
                  headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message, "detail": [{"loc": loc, "msg": msg, "type": kind}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})
