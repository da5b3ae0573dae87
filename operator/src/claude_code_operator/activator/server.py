"""The activator's I/O: a listener per route port, requests held, wake-ups asked for, and requests passed
through to the woken pod with the answer streamed back as it arrives. What to do with each request is
decided in `decide.py`; the routes come from `routes.py`, read by `kube/activator.py`.

Logs name ports, providers, statuses and durations, never headers or bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from lightkube import ApiError
from yarl import URL

from ..kube.api import TransportError
from .decide import (
    BODY_TOO_LARGE,
    TOO_MANY_HELD,
    TOO_MANY_WAKES,
    UPSTREAM_FAILED,
    Forward,
    Refuse,
    WakeLimiter,
    decide,
    to_error_body,
    to_forwarded_headers,
)
from .routes import Route, RoutesError, parse_routes
from .settings import ActivatorSettings

log = logging.getLogger("claude_code_operator.activator")
#: Between failed attempts to ask for a wake-up (within the hold bound).
WAKE_RETRY_SECONDS = 2.0
#: How long held and passing requests may finish when the activator stops.
SHUTDOWN_SECONDS = 30.0
CONNECT_SECONDS = 10.0
LISTEN_RETRY_SECONDS = 5.0


class WakeRequests(Protocol):
    async def patch_wake_request(self, namespace: str, name: str, at: str) -> bool: ...


@dataclass
class Tracked:
    """One route port: its route, its listener, since when a wake-up is asked for, and the event that
    tells held requests the route changed."""

    route: Route
    site: web.TCPSite | None = None
    waking_since: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def waking(self, now: float, bound: float) -> bool:
        return self.waking_since is not None and now - self.waking_since < bound

    def update(self, route: Route) -> None:
        if route.provider != self.route.provider or route.target != self.route.target:
            self.waking_since = None  # another provider, a woken one, or one asleep again
        self.route = route
        self.notify()

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


def _port_of(request: web.BaseRequest) -> int:
    """The port the request came in on (0, never a route's, when the connection is gone)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


def _rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Activator:
    def __init__(
        self, settings: ActivatorSettings, kube: WakeRequests, clock: Callable[[], float] | None = None
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.clock = clock or asyncio.get_running_loop().time
        self.limiter = WakeLimiter(settings.wake_burst, settings.wakes_per_minute / 60.0)
        self.tracked: dict[int, Tracked] = {}
        self.held = 0
        #: The routes read last (None: none read yet), those applied last, and the event that they changed.
        self._wanted: dict[int, Route] | None = None
        self._applied: dict[int, Route] | None = None
        self._routes_changed = asyncio.Event()
        # No access log: its lines carry headers (User-Agent, Referer); the activator's own lines say enough.
        self._runner = web.ServerRunner(
            web.Server(self._handle, handler_cancellation=True, access_log=None), shutdown_timeout=SHUTDOWN_SECONDS
        )
        self._health = web.ServerRunner(web.Server(self._healthz, access_log=None))
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def ready(self) -> bool:
        """The routes have been read and applied, and every route's port listens."""
        current = self._wanted is not None and self._applied is self._wanted
        return current and all(t.site is not None for t in self.tracked.values())

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.settings.max_held),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            # Exactly the client's headers: none of aiohttp's own defaults.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_SECONDS, sock_read=self.settings.upstream_read_seconds
            ),
        )
        await self._runner.setup()
        await self._health.setup()
        await web.TCPSite(self._health, self.settings.host, self.settings.health_port).start()
        log.info(
            "Activator started",
            extra={"namespace": self.settings.namespace, "health_port": self.settings.health_port},
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._runner.cleanup()
        await self._health.cleanup()
        if self._session is not None:
            await self._session.close()

    # The routes: read by the watch (a plain call), applied to the listeners by `run_listeners`.

    def routes_seen(self, text: str | None) -> None:
        """A version of `routes.json` (None: none). A faulty one is refused whole: the routes stay as they were."""
        try:
            routes = parse_routes(text if text is not None else "{}")
        except RoutesError as error:
            log.error("Activator routes refused; serving the previous ones", extra={"faults": error.faults})
            return
        self._wanted = routes
        self._routes_changed.set()

    async def run_listeners(self) -> None:
        """Open a listener for each new route port, close those of removed routes, tell held requests of
        every change; a port that could not be opened is tried again every LISTEN_RETRY_SECONDS. Runs until
        cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._routes_changed.wait(), LISTEN_RETRY_SECONDS)
            self._routes_changed.clear()
            if self._wanted is not None:
                await self.apply_routes(self._wanted)

    async def apply_routes(self, routes: dict[int, Route]) -> None:
        for port in [p for p in self.tracked if p not in routes]:
            gone = self.tracked.pop(port)
            if gone.site is not None:
                await gone.site.stop()
            gone.notify()
            log.info("Route closed", extra={"port": port, "provider": "/".join(gone.route.provider)})
        for port, route in routes.items():
            tracked = self.tracked.get(port)
            if tracked is None:
                tracked = self.tracked[port] = Tracked(route)
            elif tracked.route != route:
                tracked.update(route)
            if tracked.site is None:
                await self._listen(port, tracked)
        self._applied = routes

    async def _listen(self, port: int, tracked: Tracked) -> None:
        site = web.TCPSite(self._runner, self.settings.host, port)
        try:
            await site.start()
        except OSError as error:
            log.error("Route port not opened", extra={"port": port, "error": str(error)})
            return
        tracked.site = site
        provider = "/".join(tracked.route.provider)
        log.info("Route opened", extra={"port": port, "provider": provider, "woken": tracked.route.target is not None})

    # Requests.

    async def _healthz(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path != "/healthz":
            return web.Response(status=404)
        return web.Response(status=200 if self.ready else 503, text="ok" if self.ready else "routes not read yet")

    def _refuse(self, refuse: Refuse, port: int, client: str) -> web.Response:
        headers = {"Retry-After": str(refuse.retry_after)} if refuse.retry_after is not None else {}
        log.info(
            "Request refused",
            extra={"port": port, "client": client, "status": refuse.refusal.status, "code": refuse.refusal.code},
        )
        return web.json_response(to_error_body(refuse), status=refuse.refusal.status, headers=headers)

    async def _read_body(self, request: web.BaseRequest) -> bytes | None:
        """The whole body, or None when it is larger than the limit (read no further than that)."""
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return None
        body = bytearray()
        async for chunk in request.content.iter_any():
            body += chunk
            if len(body) > limit:
                return None
        return bytes(body)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        port, client = _port_of(request), request.remote or "unknown"
        body = await self._read_body(request)
        if body is None:
            limit = self.settings.max_body_bytes
            return self._refuse(Refuse(BODY_TOO_LARGE, details={"limit": limit}), port, client)
        settings, start = self.settings, self.clock()
        held_for: tuple[str, str] | None = None
        try:
            while True:
                tracked = self.tracked.get(port)
                now = self.clock()
                decision = decide(
                    tracked.route if tracked else None,
                    held_for=held_for,
                    waking=tracked is not None and tracked.waking(now, settings.hold_seconds),
                    waited=now - start,
                    bound=settings.hold_seconds,
                    retry_after=settings.retry_after_seconds,
                )
                if isinstance(decision, Forward):
                    assert tracked is not None  # a Forward names the port's route
                    return await self._forward(request, body, decision.target, tracked.route, now - start)
                if isinstance(decision, Refuse):
                    return self._refuse(decision, port, client)
                assert tracked is not None  # a Hold is for the port's route
                if held_for is None:
                    if self.held >= settings.max_held:
                        refuse = Refuse(TOO_MANY_HELD, retry_after=settings.retry_after_seconds)
                        return self._refuse(refuse, port, client)
                    held_for = tracked.route.provider
                    self.held += 1
                if decision.wake:
                    retry_after = self.limiter.admit(client, now)
                    if retry_after:
                        return self._refuse(Refuse(TOO_MANY_WAKES, retry_after=retry_after), port, client)
                    tracked.waking_since = now
                    self._spawn(self._request_wake(port, tracked))
                changed = tracked.changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, start + settings.hold_seconds - now))
        finally:
            if held_for is not None:
                self.held -= 1

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request_wake(self, port: int, tracked: Tracked) -> None:
        """Ask once for this provider to be woken (again every WAKE_RETRY_SECONDS while that fails, within
        the hold bound and while the route still sleeps)."""
        namespace, name = tracked.route.provider
        where = {"port": port, "provider": f"{namespace}/{name}"}
        deadline = self.clock() + self.settings.hold_seconds
        while True:
            try:
                found = await self.kube.patch_wake_request(namespace, name, _rfc3339_now())
            except (ApiError, TransportError) as error:
                log.warning("Wake-up not asked for; trying again", extra={**where, "error": type(error).__name__})
            else:
                if found:
                    log.info("Wake-up asked for", extra=where)
                else:
                    log.warning("Wake-up not asked for: the provider does not exist", extra=where)
                return
            still_asleep = self.tracked.get(port) is tracked and tracked.route.target is None
            if not still_asleep or self.clock() + WAKE_RETRY_SECONDS > deadline:
                return
            await asyncio.sleep(WAKE_RETRY_SECONDS)

    async def _forward(
        self, request: web.BaseRequest, body: bytes, target: str, route: Route, held: float
    ) -> web.StreamResponse:
        """The request as it came (method, path and query, headers, body) to the woken pod; its answer
        streamed back chunk by chunk as it arrives."""
        assert self._session is not None, "start() first"
        provider = f"{route.namespace}/{route.name}"
        where = {"port": _port_of(request), "provider": provider, "held_ms": round(held * 1000)}
        url = URL(f"http://{target}{request.raw_path}", encoded=True)
        headers = to_forwarded_headers(request.headers.items())
        response: web.StreamResponse | None = None
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=body or None, allow_redirects=False
            ) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name, value in to_forwarded_headers(upstream.headers.items()):
                    response.headers.add(name, value)
                if upstream.content_length is not None:
                    response.content_length = upstream.content_length
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("Request not passed through", extra={**where, "error": type(error).__name__})
            if response is not None:
                raise  # the answer had begun: the connection is dropped, as the provider's was
            retry_after = self.settings.retry_after_seconds
            refuse = Refuse(UPSTREAM_FAILED, retry_after=retry_after, details={"provider": provider})
            return self._refuse(refuse, _port_of(request), request.remote or "unknown")
        log.info("Request passed through", extra={**where, "status": upstream.status})
        return response
