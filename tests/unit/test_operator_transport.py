"""lightkube's client over aiohttp: what reaches the server, what comes back, and failures as the
httpx2 errors the operator retries on (a loopback server stands in for the API server)."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
from collections.abc import AsyncIterator

import httpx2
import pytest
from aiohttp import web

from claude_code_operator.kube.transport import AiohttpTransport

SEEN: list[tuple[str, str, str, bytes]] = []


async def echo(request: web.Request) -> web.Response:
    SEEN.append((request.method, request.path_qs, request.headers.get("Content-Type", ""), await request.read()))
    return web.json_response({"kind": "Status", "path": request.path})


async def zipped(request: web.Request) -> web.Response:
    body = gzip.compress(json.dumps({"items": ["x" * 2000]}).encode())
    return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})


async def warning(request: web.Request) -> web.StreamResponse:
    response = web.Response(text="{}", content_type="application/json")
    response.headers["Warning"] = '299 - "naïve webhook says: déjà vu"'
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(1)
    return web.Response(text="late")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_get("/zipped", zipped)
    app.router.add_get("/warning", warning)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    SEEN.clear()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def client(base: str, timeout: float = 5) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=base, transport=AiohttpTransport(ssl.create_default_context(), 4), timeout=timeout
    )


async def test_method_query_headers_and_body_reach_the_server(server: str) -> None:
    body = b'{"status": {"phase": "Ready"}}'
    async with client(server) as http:
        reply = await http.patch(
            "/echo/apis/x/status?fieldManager=me",
            content=body,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        gone = await http.get("/echo/plain")
    assert reply.status_code == 200
    assert reply.json() == {"kind": "Status", "path": "/echo/apis/x/status"}
    assert SEEN[0] == ("PATCH", "/echo/apis/x/status?fieldManager=me", "application/merge-patch+json", body)
    assert gone.status_code == 200
    assert SEEN[1][2:] == ("", b""), "a request without a body sends none (and no Content-Type for one)"


async def test_a_compressed_answer_arrives_decoded_and_says_so(server: str) -> None:
    async with client(server) as http:
        reply = await http.get("/zipped", headers={"Accept-Encoding": "gzip"})
    assert reply.json() == {"items": ["x" * 2000]}
    assert "content-encoding" not in reply.headers


async def test_a_header_that_is_not_ascii_does_not_fail_the_request(server: str) -> None:
    async with client(server) as http:
        reply = await http.get("/warning")
    assert reply.status_code == 200
    assert "webhook" in reply.headers["warning"]


async def test_failures_are_the_httpx2_errors_the_operator_retries_on(server: str) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    async with client(f"http://127.0.0.1:{closed}") as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get("/api")
    async with client(server, timeout=0.2) as http:
        with pytest.raises(httpx2.ReadTimeout):
            await http.get("/slow")
        with pytest.raises(NotImplementedError):
            await http.get("/echo/pods", params={"watch": "true"})
