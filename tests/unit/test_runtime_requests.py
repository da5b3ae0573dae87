"""The completion API's request counts in /auth/status: what the operator reads to tell an idle pod."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from claude_code_provider.auth.status import Requests
from claude_code_provider.runtime.activity import CountRequests, RequestCounter


async def call(app: ASGIApp, path: str, sent: list[tuple[bytes, Requests]], counter: RequestCounter) -> None:
    """One POST, as uvicorn makes it; each body part sent is recorded with the counts at that moment."""
    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b"", "root_path": ""}

    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:  # the client stays connected: it waits here until the answer ends
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            sent.append((message.get("body", b""), counter.snapshot()))

    await app(scope, receive, send)


async def test_a_streamed_answer_is_in_flight_until_its_last_line_and_every_request_counts() -> None:
    async def stream(_: Request) -> Response:
        async def lines() -> AsyncIterator[bytes]:
            yield b'{"type":"delta"}\n'
            yield b'{"type":"finish"}\n'

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def refuse(_: Request) -> Response:
        return JSONResponse({"kind": "bad_request"}, status_code=400)

    counter = RequestCounter()
    app = Starlette(
        routes=[Route("/stream", stream, methods=["POST"]), Route("/refuse", refuse, methods=["POST"])],
        middleware=[Middleware(CountRequests, counter=counter)],
    )
    sent: list[tuple[bytes, Requests]] = []
    assert counter.snapshot() == Requests(started=0, in_flight=0)
    await call(app, "/stream", sent, counter)
    in_flight = Requests(started=1, in_flight=1)
    assert sent == [(b'{"type":"delta"}\n', in_flight), (b'{"type":"finish"}\n', in_flight), (b"", in_flight)]
    assert counter.snapshot() == Requests(started=1, in_flight=0)
    await call(app, "/refuse", sent, counter)
    assert counter.snapshot() == Requests(started=2, in_flight=0)
