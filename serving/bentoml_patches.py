"""Fixes for BentoML 1.4.39, applied when the service starts (never at import).

``TimeoutMiddleware`` schedules ``loop.call_later(timeout, ...)`` for every request and never
cancels it, so each request's context (its OpenTelemetry span, futures, the request scope)
stays reachable for ``traffic.timeout`` seconds after the answer is sent. Measured on this
2-core machine at ~500 requests/s with the 30 s timeout: the collector's generation-2 passes
grew from 26 ms to 340 ms within 30 s, stalling every request in flight (p99 /rank 150-300 ms).
:func:`cancel_timeout_timers` replaces the middleware's ``__call__`` with the same logic plus
``timer.cancel()`` when the request ends; with it the pauses are gone (p99 under 50 ms).

BentoML logs every request it refuses, a client's mistake included, at ERROR with the whole
traceback and pydantic's message, which quotes the input (2.3 KB of log for a 13-byte bad
request). :func:`quiet_client_errors` logs a refused request (a schema error, 400, or another
4xx) at INFO in one line, ``POST /rank answered 400: top_n: Input should be a valid integer``,
without the input; a server error keeps BentoML's ERROR with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

logger = logging.getLogger("spotlight.service")


def cancel_timeout_timers() -> bool:
    """Patch ``TimeoutMiddleware.__call__`` (idempotent); False if the class is not the shape
    this fix was written for (then nothing is changed)."""
    from bentoml._internal.server.http import traffic
    from starlette.responses import JSONResponse

    middleware = traffic.TimeoutMiddleware
    if getattr(middleware, "_spotlight_patched", False):
        return True
    if not hasattr(middleware, "_set_timer_out"):
        return False

    async def __call__(self: Any, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

        async def _send(message: Any) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        fut = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
        try:
            await waiter
        except TimeoutError:
            if fut.cancel():
                await JSONResponse({"error": f"Not able to process the request in {self.timeout} seconds"},
                                   status_code=504)(scope, receive, send)
        else:
            await fut
        finally:
            timer.cancel()

    middleware.__call__ = __call__  # type: ignore[method-assign,assignment]
    setattr(middleware, "_spotlight_patched", True)  # noqa: B010 - a marker on a foreign class
    return True


def client_error(exc: BaseException | None) -> tuple[int, str] | None:
    """(status, one-line reason without the input) when ``exc`` is the client's mistake, else None."""
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        from serving.edge import where

        return 400, where([dict(e) for e in exc.errors(include_input=False)], limit=300)
    if isinstance(exc, BentoMLException) and 400 <= exc.error_code.value < 500:
        return exc.error_code.value, " ".join(str(exc).split())[:300]
    return None


def quiet_client_errors() -> bool:
    """Replace BentoML's request-error logger (idempotent); False if it is not where this fix
    expects it (then nothing is changed)."""
    from _bentoml_impl.server import app

    original = getattr(app, "log_exception", None)
    if original is None:
        return False
    if getattr(original, "_spotlight_patched", False):
        return True

    def log_exception(request: Any, exc_info: Any = True) -> None:
        refused = client_error(sys.exc_info()[1])
        if refused is None:
            original(request, exc_info)
            return
        logger.info("%s %s answered %d: %s", request.method, request.url.path, *refused)

    log_exception._spotlight_patched = True  # type: ignore[attr-defined]
    app.log_exception = log_exception
    return True
