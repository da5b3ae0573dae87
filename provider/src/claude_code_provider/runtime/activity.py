"""The completion API's requests, counted for /auth/status: how many arrived since the runtime started
and how many are not answered yet. The operator reads them to tell an idle pod (spec.idle)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..auth.status import Requests


class RequestCounter:
    def __init__(self) -> None:
        self.started = 0
        self.in_flight = 0

    def snapshot(self) -> Requests:
        return Requests(started=self.started, in_flight=self.in_flight)


class CountRequests:
    """ASGI middleware: a request is in flight from its arrival until its response is sent to the end
    (a stream's last line included), whatever it ends with."""

    def __init__(self, app: ASGIApp, counter: RequestCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter.started += 1
        self.counter.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter.in_flight -= 1
