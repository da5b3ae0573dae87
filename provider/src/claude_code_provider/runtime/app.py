"""HTTP routes of the runtime: the completion API (loopback, token) and health and auth status (pod network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..engine.engine import Engine
from ..errors import LOGIN_HINT, ClaudeCodeError, ErrorKind
from ..metrics import Metrics
from ..protocol import COMPLETE_PATH, CompletionRequest, ErrorEvent, Finish, TextDelta, encode_event
from .guard import LoopbackGuard
from .monitor import LoginMonitor

NDJSON = "application/x-ndjson"


class Admission:
    """Per-login admission: ``limit`` requests in flight, at most ``max_queued`` waiting for ``timeout``
    seconds; anything beyond is turned away at once, so a pod never runs more CLIs than it can hold."""

    def __init__(self, limit: int, max_queued: int, timeout: float, metrics: Metrics) -> None:
        self.limit = limit
        self.max_queued = max_queued
        self._timeout = timeout
        self._slots = asyncio.Semaphore(limit)
        self._waiting = 0
        self._metrics = metrics

    async def enter(self) -> bool:
        if self._slots.locked() and self._waiting >= self.max_queued:
            self._metrics.requests.labels(outcome=ErrorKind.BUSY.value).inc()
            return False
        self._waiting += 1
        self._metrics.queued.set(self._waiting)
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            self._metrics.requests.labels(outcome=ErrorKind.BUSY.value).inc()
            return False
        finally:
            self._waiting -= 1
            self._metrics.queued.set(self._waiting)
        self._metrics.in_flight.inc()
        return True

    def leave(self) -> None:
        self._slots.release()
        self._metrics.in_flight.dec()


def error_response(error: ClaudeCodeError) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(error.retry_after)))} if error.retry_after is not None else None
    return JSONResponse(ErrorEvent.of(error).model_dump(mode="json"), status_code=error.status, headers=headers)


class _EventStream(StreamingResponse):
    """An NDJSON stream that releases its slot and stops its CLI however the response ends."""

    def __init__(self, events: AsyncIterator[TextDelta | Finish], first: TextDelta | Finish, admission: Admission):
        self._events = events
        self._admission = admission
        super().__init__(self._lines(first), media_type=NDJSON)

    async def _lines(self, first: TextDelta | Finish) -> AsyncIterator[bytes]:
        yield encode_event(first)
        try:
            async for event in self._events:
                yield encode_event(event)
        except ClaudeCodeError as error:
            yield encode_event(ErrorEvent.of(error))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._events.aclose()  # type: ignore[attr-defined]
            self._admission.leave()


def build_api_app(engine: Engine, admission: Admission, *, token: str, login_problem: str | None = None) -> Starlette:
    async def complete(request: Request) -> Response:
        if login_problem is not None:
            return error_response(ClaudeCodeError(ErrorKind.NOT_LOGGED_IN, f"{login_problem} {LOGIN_HINT}"))
        try:
            body = CompletionRequest.model_validate_json(await request.body())
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            return error_response(ClaudeCodeError(ErrorKind.BAD_REQUEST, f"Invalid request: {problems}"))
        if not await admission.enter():
            return error_response(
                ClaudeCodeError(
                    ErrorKind.BUSY,
                    f"This login already serves {admission.limit} requests at once and "
                    f"{admission.max_queued} more are waiting; retry shortly.",
                    retry_after=1,
                )
            )
        events = engine.complete(body)
        try:
            first = await anext(events)
        except BaseException as error:
            await events.aclose()  # type: ignore[attr-defined]
            admission.leave()
            if isinstance(error, ClaudeCodeError):
                return error_response(error)
            raise
        return _EventStream(events, first, admission)

    return Starlette(
        routes=[Route(COMPLETE_PATH, complete, methods=["POST"])],
        middleware=[Middleware(LoopbackGuard, token=token)],
    )


def build_health_app(monitor: LoginMonitor, metrics: Metrics) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        status = await monitor.status()
        return JSONResponse(
            {"ready": status.logged_in, "reason": status.reason}, status_code=200 if status.logged_in else 503
        )

    async def auth_status(_: Request) -> Response:
        status = await monitor.status()
        return Response(status.model_dump_json(), media_type="application/json")

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/metrics", prometheus),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/auth/status", auth_status),
        ]
    )
