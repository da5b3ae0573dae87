"""HTTP routes of the runtime: the completion API (loopback, token) and health and auth status (pod network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..engine.admission import Admission
from ..engine.engine import Engine
from ..errors import ClaudeCodeError, ErrorKind, render_retry_after
from ..metrics import Metrics
from ..protocol import COMPLETE_PATH, AnswerEvent, CompletionRequest, ErrorEvent, encode_event
from .activity import CountRequests, RequestCounter
from .guard import LoopbackGuard
from .monitor import LoginMonitor

NDJSON = "application/x-ndjson"


def error_response(error: ClaudeCodeError) -> JSONResponse:
    headers = {"Retry-After": render_retry_after(error.retry_after)} if error.retry_after is not None else None
    return JSONResponse(ErrorEvent.of(error).model_dump(mode="json"), status_code=error.status, headers=headers)


class _EventStream(StreamingResponse):
    """An NDJSON stream that releases its slot and stops its CLI however the response ends."""

    def __init__(self, events: AsyncIterator[AnswerEvent], first: AnswerEvent, admission: Admission):
        self._events = events
        self._admission = admission
        super().__init__(self._lines(first), media_type=NDJSON)

    async def _lines(self, first: AnswerEvent) -> AsyncIterator[bytes]:
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


def build_api_app(
    engine: Engine,
    admission: Admission,
    *,
    token: str,
    login_problem: Callable[[], str | None] = lambda: None,
    counter: RequestCounter,
) -> Starlette:
    """`counter`: counts the requests that pass the guard (every one a client sent, refused or not)."""

    def refuse(error: ClaudeCodeError) -> Response:
        """A request turned away before the engine saw it, counted like the engine counts its failures."""
        engine.metrics.requests.labels(outcome=error.kind.value).inc()
        return error_response(error)

    async def complete(request: Request) -> Response:
        if (problem := login_problem()) is not None:
            return refuse(ClaudeCodeError(ErrorKind.NOT_LOGGED_IN, problem).with_login_hint(engine.settings.login_hint))
        try:
            body = CompletionRequest.model_validate_json(await request.body())
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            return refuse(ClaudeCodeError(ErrorKind.BAD_REQUEST, f"Invalid request: {problems}"))
        try:
            await admission.enter()
        except ClaudeCodeError as error:
            return error_response(error)
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
        middleware=[
            Middleware(LoopbackGuard, token=token),
            Middleware(CountRequests, counter=counter),
        ],
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
