"""The activator process (`claude-code-operator activator`) on loopback, as clients of a sleeping provider
meet it: the official openai client calls a route port; a minimal fake API server serves the routes
ConfigMap (get and watch) and takes the wake-up patches; when one arrives, a stand-in for the operator
sets the route's target after a pod start's delay; the target is a fake LiteLLM on 127.0.0.1 that
checks the master key and records what it got. Every client speaks from its own loopback address: the
wake-up limit is per source IP."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import openai
import pytest
from aiohttp import web

from claude_code_devkit.fakes.litellm_api import ANSWER, FakeLiteLLM, serve_on_loopback
from claude_code_devkit.paths import VENV_BIN
from claude_code_devkit.ports import free_port
from claude_code_devkit.processes import Process

NAMESPACE = "ops"
CONFIG_MAP = "claude-code-activator-routes"
ROUTES_PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
WAKE_ANNOTATION = "claudecode.dev/wake-requested-at"
MASTER_KEY = "sk-activator-test-master"
#: The stand-in operator's pod start: the route's target is set this long after the wake-up patch.
POD_START_SECONDS = 0.6
HOLD_SECONDS = 3
RETRY_AFTER = 7
WAKE_BURST = 2
MAX_HELD = 4
MAX_BODY = 64 * 1024


@dataclass
class FakeApi:
    """The API server as the activator uses it: the routes ConfigMap (get, watch by name) and merge
    patches of ClaudeCodeProviders; plays the operator by setting a woken provider's target."""

    upstream: str
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Providers that exist; of those, the ones the stand-in operator wakes.
    providers: set[tuple[str, str]] = field(default_factory=set)
    never_woken: set[tuple[str, str]] = field(default_factory=set)
    wakes: list[tuple[str, str, str]] = field(default_factory=list)
    version: int = 1
    watchers: list[asyncio.Queue[dict[str, Any]]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def config_map(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE, "resourceVersion": str(self.version)},
            "data": {"routes.json": json.dumps(self.routes)},
        }

    def sleeping(self, port: int, namespace: str, name: str, *, woken: bool = True) -> None:
        self.routes[str(port)] = {"namespace": namespace, "name": name, "target": None}
        self.providers.add((namespace, name))
        if not woken:
            self.never_woken.add((namespace, name))

    def publish(self) -> None:
        self.version += 1
        for queue in self.watchers:
            queue.put_nowait({"type": "MODIFIED", "object": self.config_map()})

    async def wake_later(self, namespace: str, name: str) -> None:
        await asyncio.sleep(POD_START_SECONDS)
        for route in self.routes.values():
            if (route["namespace"], route["name"]) == (namespace, name):
                route["target"] = self.upstream
        self.publish()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path == f"{ROUTES_PATH}/{CONFIG_MAP}":
            return web.json_response(self.config_map())
        if request.method == "GET" and request.path == ROUTES_PATH and request.query.get("watch") == "true":
            assert request.query["fieldSelector"] == f"metadata.name={CONFIG_MAP}"
            return await self.watch(request)
        parts = request.path.split("/")
        if (
            request.method == "PATCH"
            and parts[:3] == ["", "apis", "claudecode.dev"]
            and parts[6] == "claudecodeproviders"
        ):
            namespace, name = parts[5], parts[7]
            assert request.content_type == "application/merge-patch+json"
            if (namespace, name) not in self.providers:
                return web.json_response({"kind": "Status", "code": 404, "reason": "NotFound"}, status=404)
            at = (await request.json())["metadata"]["annotations"][WAKE_ANNOTATION]
            self.wakes.append((namespace, name, at))
            if (namespace, name) not in self.never_woken:
                task = asyncio.create_task(self.wake_later(namespace, name))
                self.tasks.add(task)
            body = {"apiVersion": "claudecode.dev/v1alpha1", "kind": "ClaudeCodeProvider"}
            return web.json_response({**body, "metadata": {"name": name, "namespace": namespace}})
        return web.json_response({"kind": "Status", "code": 404}, status=404)

    async def watch(self, request: web.Request) -> web.StreamResponse:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.watchers.append(queue)
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        try:
            if request.query.get("resourceVersion") != str(self.version):
                await response.write(json.dumps({"type": "ADDED", "object": self.config_map()}).encode() + b"\n")
            while True:
                event = await queue.get()
                await response.write(json.dumps(event).encode() + b"\n")
        finally:
            self.watchers.remove(queue)


@dataclass
class Stack:
    api: FakeApi
    upstream: FakeLiteLLM
    upstream_port: int
    ports: list[int]
    process: Process
    health_port: int

    def client(self, port: int, source: str) -> openai.AsyncOpenAI:
        """An openai client of a route port, speaking from loopback address `source`; no retries (its
        own would hide the activator's 429 and 503)."""
        transport = httpx.AsyncHTTPTransport(local_address=source)
        return openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key=MASTER_KEY,
            max_retries=0,
            timeout=30,
            http_client=httpx.AsyncClient(transport=transport),
        )


async def wait_healthy(port: int, process: Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.alive(), process.output()
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"the activator was not ready within {timeout} s:\n{process.output()}")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    upstream_port, api_port, health_port = free_port(), free_port(), free_port()
    ports = [free_port() for _ in range(4)]  # ephemeral ports: all from 20000 up
    api, upstream = FakeApi(upstream=f"127.0.0.1:{upstream_port}"), FakeLiteLLM(MASTER_KEY)
    for index, port in enumerate(ports[:3]):
        api.sleeping(port, "team", f"p{index}")
    api.sleeping(ports[3], "team", "stuck", woken=False)
    runners = [await serve_on_loopback(api.handle, api_port), await serve_on_loopback(upstream.handle, upstream_port)]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{api_port}"}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    process = Process(
        [
            str(VENV_BIN / "claude-code-operator"), "activator", "--routes-namespace", NAMESPACE,
            "--host", "127.0.0.1", "--health-port", str(health_port), "--hold-seconds", str(HOLD_SECONDS),
            "--retry-after-seconds", str(RETRY_AFTER), "--wake-burst", str(WAKE_BURST), "--wakes-per-minute", "1",
            "--max-held", str(MAX_HELD), "--max-body-bytes", str(MAX_BODY),
        ],
        env={"PATH": str(VENV_BIN), "KUBECONFIG": str(kubeconfig), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
        log=tmp_path / "activator.log",
    )  # fmt: skip
    try:
        await wait_healthy(health_port, process)
        yield Stack(api, upstream, upstream_port, ports, process, health_port)
    finally:
        process.stop()
        for task in api.tasks:
            task.cancel()
        for runner in runners:
            await runner.cleanup()
        logs = process.output()
        assert MASTER_KEY not in logs, "the activator logs no headers"
        assert "AsyncOpenAI" not in logs, "not even the User-Agent"
        assert "Hello" not in logs, "the activator logs no bodies"


async def test_two_requests_during_a_wake_both_succeed_with_one_wake_up(stack: Stack) -> None:
    port = stack.ports[0]
    client = stack.client(port, "127.0.0.11")
    started = time.monotonic()
    answers = await asyncio.gather(
        *(
            client.chat.completions.create(model="claude-sonnet", messages=[{"role": "user", "content": f"hi {n}"}])
            for n in range(2)
        )
    )
    waited = time.monotonic() - started
    assert [a.choices[0].message.content for a in answers] == [ANSWER] * 2
    assert waited >= POD_START_SECONDS, "both were held until the pod was Ready"
    assert [(ns, name) for ns, name, _ in stack.api.wakes] == [("team", "p0")], "one wake-up for both"
    asked_at = datetime.strptime(stack.api.wakes[0][2], "%Y-%m-%dT%H:%M:%S%z")  # RFC 3339, UTC ("Z")
    assert asked_at.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - asked_at).total_seconds()) < 10
    # Passed through unchanged: method, path, the client's headers (its key too), the body.
    assert sorted(json.loads(s["body"])["messages"][0]["content"] for s in stack.upstream.seen) == ["hi 0", "hi 1"]
    for seen in stack.upstream.seen:
        headers = dict(seen["headers"])
        assert (seen["method"], seen["path_qs"]) == ("POST", "/v1/chat/completions")
        assert headers["Authorization"] == f"Bearer {MASTER_KEY}"
        assert headers["Host"] == f"127.0.0.1:{port}"
        assert headers["User-Agent"].startswith("AsyncOpenAI/Python")
        assert headers["Content-Type"] == "application/json"
    # Once woken, a request is passed through at once, with no new wake-up; its query string as sent.
    again = await client.chat.completions.create(
        model="claude-sonnet", messages=[{"role": "user", "content": "x"}], extra_query={"trace": "a b&c/é"}
    )
    assert again.choices[0].message.content == ANSWER
    assert stack.upstream.seen[-1]["path_qs"] == "/v1/chat/completions?trace=a+b%26c%2F%C3%A9"
    assert len(stack.api.wakes) == 1


async def test_a_removed_route_closes_its_port_and_a_new_one_opens(stack: Stack) -> None:
    removed, added = stack.ports[2], free_port()
    route = stack.api.routes.pop(str(removed))
    stack.api.routes[str(added)] = {**route, "target": stack.api.upstream}
    stack.api.publish()

    async def refused(port: int) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            return True
        writer.close()
        await writer.wait_closed()
        return False

    async def changed() -> bool:
        return await refused(removed) and not await refused(added)

    deadline = time.monotonic() + 10
    while not await changed() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await changed(), "the removed route's port is closed, the new one's open"
    answer = await stack.client(added, "127.0.0.20").chat.completions.create(
        model="claude-sonnet", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == ANSWER
    assert stack.api.wakes == [], "a route that names its woken pod asks for no wake-up"


async def test_the_woken_pods_refusal_of_a_bad_key_reaches_the_client_as_it_was_sent(stack: Stack) -> None:
    client = stack.client(stack.ports[0], "127.0.0.12").with_options(api_key="sk-wrong")
    with pytest.raises(openai.AuthenticationError) as refused:
        await client.chat.completions.create(model="claude-sonnet", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401
    assert refused.value.body == {"message": "bad key", "type": "auth_error", "code": "401"}


async def test_a_streamed_answer_arrives_chunk_by_chunk(stack: Stack) -> None:
    client = stack.client(stack.ports[1], "127.0.0.13")
    stream = await client.chat.completions.create(
        model="claude-sonnet", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    texts = []
    async for event in stream:
        texts.append(event.choices[0].delta.content)
        # The pod sends its second chunk only after this: a buffered pass-through would never deliver the first.
        stack.upstream.first_chunk_seen.set()
    assert texts == ["Hel", "lo"]
    assert len(stack.api.wakes) == 1


async def test_a_request_held_past_the_bound_gets_503_with_retry_after(stack: Stack) -> None:
    client = stack.client(stack.ports[3], "127.0.0.14")
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as refused:
        await client.chat.completions.create(model="claude-sonnet", messages=[{"role": "user", "content": "hi"}])
    waited = time.monotonic() - started
    assert HOLD_SECONDS <= waited < HOLD_SECONDS + 2
    assert refused.value.status_code == 503
    assert refused.value.response.headers["Retry-After"] == str(RETRY_AFTER)
    assert refused.value.body == {
        "message": f"The provider team/stuck was still waking after {HOLD_SECONDS} s; try again in {RETRY_AFTER} s.",
        "type": "service_unavailable",
        "param": None,
        "code": "provider_waking",
    }
    assert [(ns, name) for ns, name, _ in stack.api.wakes] == [("team", "stuck")]
    assert stack.upstream.seen == []


async def test_a_flood_of_wake_ups_from_one_client_gets_429_and_held_requests_are_not_wake_ups(stack: Stack) -> None:
    source = "127.0.0.15"
    ask = [{"role": "user", "content": "hi"}]
    waking = [
        asyncio.create_task(stack.client(port, source).chat.completions.create(model="claude-sonnet", messages=ask))
        for port in stack.ports[:WAKE_BURST]
    ]
    deadline = time.monotonic() + 5
    while len(stack.api.wakes) < WAKE_BURST and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    # The same client again, for a provider already waking: held, not a wake-up, not refused.
    held = asyncio.create_task(
        stack.client(stack.ports[0], source).chat.completions.create(model="claude-sonnet", messages=ask)
    )
    with pytest.raises(openai.RateLimitError) as refused:
        await stack.client(stack.ports[2], source).chat.completions.create(model="claude-sonnet", messages=ask)
    assert refused.value.status_code == 429
    assert int(refused.value.response.headers["Retry-After"]) >= 1
    assert refused.value.body["code"] == "too_many_wake_ups"
    # Another client may still wake that provider.
    other = await stack.client(stack.ports[2], "127.0.0.16").chat.completions.create(
        model="claude-sonnet", messages=ask
    )
    answers = [*(await asyncio.gather(*waking, held)), other]
    assert [a.choices[0].message.content for a in answers] == [ANSWER] * 4
    assert sorted(name for _, name, _ in stack.api.wakes) == ["p0", "p1", "p2"]


async def test_the_pass_through_adds_little_to_a_direct_request(stack: Stack) -> None:
    port = stack.ports[0]
    stack.api.routes[str(port)]["target"] = stack.api.upstream
    stack.api.publish()
    ask = [{"role": "user", "content": "hi"}]
    direct = openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{stack.upstream_port}/v1", api_key=MASTER_KEY, max_retries=0
    )
    through = stack.client(port, "127.0.0.17")
    await through.chat.completions.create(model="claude-sonnet", messages=ask)  # the route is open and woken

    async def timed(client: openai.AsyncOpenAI) -> float:
        started = time.perf_counter()
        await client.chat.completions.create(model="claude-sonnet", messages=ask)
        return (time.perf_counter() - started) * 1000

    rounds = 100
    pairs = [(await timed(direct), await timed(through)) for _ in range(rounds)]
    direct_ms = statistics.median(d for d, _ in pairs)
    through_ms = statistics.median(t for _, t in pairs)
    print(f"\nactivator pass-through: median {through_ms:.2f} ms against {direct_ms:.2f} ms direct ({rounds} each)")
    assert stack.api.wakes == [], "a woken route asks for no wake-up"
    assert through_ms - direct_ms < 20, (direct_ms, through_ms)


async def test_requests_beyond_the_held_bound_get_503_at_once(stack: Stack) -> None:
    client = stack.client(stack.ports[3], "127.0.0.18")
    ask = [{"role": "user", "content": "hi"}]
    held = [
        asyncio.create_task(client.chat.completions.create(model="claude-sonnet", messages=ask))
        for _ in range(MAX_HELD)
    ]
    deadline = time.monotonic() + 5
    while not stack.api.wakes and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the others are held by now (one wake-up for all)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as refused:
        await client.chat.completions.create(model="claude-sonnet", messages=ask)
    assert time.monotonic() - started < 1, "refused at once, not held"
    assert refused.value.response.headers["Retry-After"] == str(RETRY_AFTER)
    assert refused.value.body["code"] == "too_many_waiting"
    results = await asyncio.gather(*held, return_exceptions=True)
    assert [getattr(r, "status_code", None) for r in results] == [503] * MAX_HELD, "held until the bound, then 503"


async def test_a_body_larger_than_the_bound_gets_413_and_is_not_held(stack: Stack) -> None:
    client = stack.client(stack.ports[0], "127.0.0.19")
    with pytest.raises(openai.APIStatusError) as refused:
        await client.chat.completions.create(
            model="claude-sonnet", messages=[{"role": "user", "content": "x" * MAX_BODY}]
        )
    assert refused.value.status_code == 413
    assert refused.value.body["code"] == "request_too_large"
    assert stack.api.wakes == [], "no wake-up for a request that cannot be held"


async def test_a_route_port_in_use_is_opened_once_free_and_the_activator_is_not_ready_until_then(stack: Stack) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    stack.api.routes[str(port)] = {"namespace": "team", "name": "late", "target": stack.api.upstream}
    stack.api.publish()

    async def health() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{stack.health_port}/healthz") as r,
        ):
            return r.status

    deadline = time.monotonic() + 5
    while await health() == 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await health() == 503, "not ready while a route's port is not served"
    busy.close()
    await wait_healthy(stack.health_port, stack.process, timeout=15)
    answer = await stack.client(port, "127.0.0.21").chat.completions.create(
        model="claude-sonnet", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == ANSWER
