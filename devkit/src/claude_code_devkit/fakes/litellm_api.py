"""A woken provider pod's LiteLLM, as the activator meets it, on 127.0.0.1 (an aiohttp handler): it checks
the master key (401 otherwise, as LiteLLM does), records every request as it came, and answers a chat
completion, streamed in two chunks when asked, the second only once the client has seen the first."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ANSWER = "Hello from the woken pod"


@dataclass
class FakeLiteLLM:
    """The woken pod's LiteLLM: checks the master key, records each request, answers a completion
    (streamed in two chunks, the second only once the test has seen the first)."""

    master_key: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    first_chunk_seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            {
                "method": request.method,
                "path_qs": request.path_qs,
                "headers": list(request.headers.items()),
                "body": body,
            }
        )
        if request.headers.get("Authorization") != f"Bearer {self.master_key}":
            return web.json_response({"error": {"message": "bad key", "type": "auth_error", "code": "401"}}, status=401)
        ask = json.loads(body)
        if not ask.get("stream"):
            return web.json_response(completion(ANSWER))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(chunk("Hel")))
        await asyncio.wait_for(self.first_chunk_seen.wait(), timeout=10)
        await response.write(sse(chunk("lo")) + b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _answer(kind: str, choice: dict[str, Any]) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": kind, "created": 0, "model": "claude-sonnet", "choices": [choice]}


def completion(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return {**_answer("chat.completion", {"index": 0, "message": message, "finish_reason": "stop"}), "usage": usage}


def chunk(text: str) -> dict[str, Any]:
    return _answer("chat.completion.chunk", {"index": 0, "delta": {"content": text}, "finish_reason": None})


def sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


async def serve_on_loopback(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]], port: int
) -> web.AppRunner:
    """Every path and method of 127.0.0.1:`port` to `handler`, until the runner's cleanup (which waits at
    most a second for open requests: a held watch or stream)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
