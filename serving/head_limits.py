"""Bounds on a request's head (request line and headers), applied when the service starts.

uvicorn's httptools protocol, which ``bentoml serve`` runs, reads a request head of any size
(a 50 MB header was answered 200) and waits for it forever (a client sending one header byte
a minute holds its connection and socket open). :func:`limit_request_heads` patches the
protocol class so that, per connection:

- the bytes of a head are counted as they arrive, up to the blank line that ends it; past
  ``max_bytes`` the client gets ``431 Request Header Fields Too Large`` and the connection is
  closed, so at most ``max_bytes`` (plus one socket read) is ever held;
- a head must be complete within ``timeout`` seconds of its first byte (or of the connection
  opening); otherwise ``408 Request Timeout`` and the connection is closed. Between requests,
  uvicorn's keep-alive timeout still applies.

Both answers are the service's JSON error shape. A request body is bounded by
:class:`serving.edge.JsonOnly` (size, and idle time between chunks).
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("spotlight.service")

END = b"\r\n\r\n"
REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def refusal(status: int, message: str, msg: str, kind: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, with the JSON error body."""
    body = json.dumps({"error": message, "detail": [{"loc": ["header"], "msg": msg, "type": kind}]}).encode()
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, REASONS[status], len(body)))
    return head + body


def _refuse(protocol: Any, status: int, message: str, msg: str, kind: str) -> None:
    protocol._spotlight_closed = True
    _cancel(protocol)
    client = "{}:{}".format(*protocol.client) if protocol.client else "a client"
    logger.info("refused %s: %d %s", client, status, message)
    if not protocol.transport.is_closing():
        protocol.transport.write(refusal(status, message, msg, kind))
        protocol.transport.close()


def _cancel(protocol: Any) -> None:
    timer = getattr(protocol, "_spotlight_timer", None)
    if timer is not None:
        timer.cancel()
        protocol._spotlight_timer = None


def _expire(protocol: Any) -> None:
    protocol._spotlight_timer = None
    if protocol._spotlight_in_head and not protocol._spotlight_closed:
        seconds = protocol._spotlight_limits[1]
        _refuse(protocol, 408, f"the request head was not complete within {seconds:g} s "
                               "(SPOTLIGHT_HEADER_TIMEOUT_SECONDS)", f"complete within {seconds:g} s", "timeout")


def _await_head(protocol: Any) -> None:
    protocol._spotlight_in_head, protocol._spotlight_size, protocol._spotlight_tail = True, 0, b""


def limit_request_heads(max_bytes: int, timeout: float) -> bool:
    """Patch uvicorn's ``HttpToolsProtocol`` (idempotent; a second call sets new limits); False
    if the class is not the shape this was written for (then nothing is changed)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as cls
    except ImportError:  # no httptools: uvicorn's h11 protocol bounds heads itself (16 KiB)
        return False
    cls._spotlight_limits = (max_bytes, timeout)  # type: ignore[attr-defined]
    if getattr(cls, "_spotlight_patched", False):
        return True
    names = ("connection_made", "connection_lost", "data_received", "on_headers_complete", "on_message_complete")
    if not all(callable(getattr(cls, n, None)) for n in names):
        return False
    original = {n: getattr(cls, n) for n in names}

    def connection_made(self: Any, transport: Any) -> None:
        self._spotlight_closed, self._spotlight_timer = False, None
        _await_head(self)
        original["connection_made"](self, transport)
        self._spotlight_timer = self.loop.call_later(self._spotlight_limits[1], _expire, self)

    def connection_lost(self: Any, exc: Exception | None) -> None:
        _cancel(self)
        original["connection_lost"](self, exc)

    def data_received(self: Any, data: bytes) -> None:
        if self._spotlight_closed:
            return
        if self._spotlight_in_head:
            limit, seconds = self._spotlight_limits
            if self._spotlight_timer is None:
                self._spotlight_timer = self.loop.call_later(seconds, _expire, self)
            seen = self._spotlight_tail + data
            end = seen.find(END)
            size = self._spotlight_size + (len(data) if end < 0 else end + len(END) - len(self._spotlight_tail))
            if size > limit:
                _refuse(self, 431, f"the request head passed {limit} bytes (SPOTLIGHT_MAX_HEADER_BYTES)",
                        f"at most {limit} bytes", "too_large")
                return
            self._spotlight_size += len(data)
            self._spotlight_tail = seen[-(len(END) - 1):]
        original["data_received"](self, data)

    def on_headers_complete(self: Any) -> None:
        self._spotlight_in_head = False
        _cancel(self)
        original["on_headers_complete"](self)

    def on_message_complete(self: Any) -> None:
        original["on_message_complete"](self)
        _await_head(self)  # what follows is the next request's head

    for name, patched in (("connection_made", connection_made), ("connection_lost", connection_lost),
                          ("data_received", data_received), ("on_headers_complete", on_headers_complete),
                          ("on_message_complete", on_message_complete)):
        setattr(cls, name, patched)
    cls._spotlight_patched = True  # type: ignore[attr-defined]
    return True
