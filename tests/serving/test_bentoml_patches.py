"""The request-timeout timers BentoML schedules are cancelled when a request ends."""

from __future__ import annotations

import asyncio

from serving.bentoml_patches import cancel_timeout_timers


async def _ok(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _serve(n: int) -> tuple[list[int], int]:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    middleware = TimeoutMiddleware(_ok, timeout=30)
    statuses: list[int] = []

    async def send(message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(n):
        await middleware({"type": "http"}, None, send)
    loop = asyncio.get_running_loop()
    live = sum(not handle.cancelled() for handle in loop._scheduled)  # timers still holding a request
    return statuses, live


def test_requests_leave_no_live_timer_after_the_patch() -> None:
    assert cancel_timeout_timers() and cancel_timeout_timers()  # idempotent
    statuses, live = asyncio.run(_serve(200))
    assert statuses == [200] * 200 and live == 0


async def _slow(scope, receive, send) -> None:
    await asyncio.sleep(1)


def test_the_timeout_still_answers_504() -> None:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    cancel_timeout_timers()
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def go() -> None:
        await TimeoutMiddleware(_slow, timeout=0.05)({"type": "http"}, None, send)

    asyncio.run(go())
    assert sent[0]["status"] == 504
