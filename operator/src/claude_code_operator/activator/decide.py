"""What the activator does with a request, decided without I/O: pass it through, hold it (asking for a
wake-up or not), or refuse it with which status and words; the per-client limit on wake-ups; which
headers travel. `server.py` does the I/O around these."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .routes import Route

#: Connection-level headers (RFC 9110 7.6.1), never passed on; Content-Length is the sender's own.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True)
class Forward:
    """Pass the request through to the woken pod."""

    target: str


@dataclass(frozen=True)
class Hold:
    """Keep the request until the route changes or the bound passes; `wake`: ask for a wake-up first
    (nobody has while the provider is waking)."""

    wake: bool


@dataclass(frozen=True)
class Refusal:
    """One kind of refusal: its HTTP status, OpenAI-style error type and code, and what it tells the client."""

    status: int
    type: str
    code: str
    message: str


@dataclass(frozen=True)
class Refuse:
    refusal: Refusal
    #: Seconds the client should wait before it tries again (the Retry-After header); None: not again.
    retry_after: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.refusal.message.format(retry_after=self.retry_after, **self.details)


Decision = Forward | Hold | Refuse

NO_ROUTE = Refusal(
    503,
    "service_unavailable",
    "provider_not_asleep",
    "No sleeping provider is served on this port any more; try again through the provider's Service.",
)
STILL_WAKING = Refusal(
    503,
    "service_unavailable",
    "provider_waking",
    "The provider {provider} was still waking after {waited} s; try again in {retry_after} s.",
)
TOO_MANY_WAKES = Refusal(
    429,
    "rate_limit_error",
    "too_many_wake_ups",
    "Too many wake-ups of sleeping providers from this client; try again in {retry_after} s.",
)
TOO_MANY_HELD = Refusal(
    503,
    "service_unavailable",
    "too_many_waiting",
    "Too many requests are waiting for sleeping providers; try again in {retry_after} s.",
)
BODY_TOO_LARGE = Refusal(
    413,
    "invalid_request_error",
    "request_too_large",
    "The request body is larger than the {limit} bytes a sleeping provider's request may hold.",
)
UPSTREAM_FAILED = Refusal(
    502,
    "api_error",
    "provider_unreachable",
    "The woken provider {provider} did not answer; try again in {retry_after} s.",
)


def decide(
    route: Route | None,
    *,
    held_for: tuple[str, str] | None,
    waking: bool,
    waited: float,
    bound: float,
    retry_after: int,
) -> Decision:
    """What to do with a request on a route's port now. `route`: the port's route (None: none);
    `held_for`: the provider the request was first held for (None on arrival): a port given to another
    provider since then is no route for it; `waking`: a wake-up of this provider was asked for within the
    bound; `waited`: seconds the request has been held."""
    if route is None or (held_for is not None and route.provider != held_for):
        return Refuse(NO_ROUTE, retry_after=1)
    if route.target is not None:
        return Forward(route.target)
    if waited >= bound:
        provider = f"{route.namespace}/{route.name}"
        return Refuse(STILL_WAKING, retry_after=retry_after, details={"provider": provider, "waited": round(waited)})
    return Hold(wake=not waking)


def to_error_body(refuse: Refuse) -> dict[str, Any]:
    """The OpenAI-style error body of a refusal (what the `openai` client reads into its exception)."""
    refusal = refuse.refusal
    return {"error": {"message": refuse.message, "type": refusal.type, "param": None, "code": refusal.code}}


def to_forwarded_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers passed on, as sent, in order (Authorization included), without the connection-level
    ones, those the Connection header names, and Content-Length (the body is sent whole, with its own)."""
    pairs = list(headers)
    named = {
        token.strip().lower() for name, value in pairs if name.lower() == "connection" for token in value.split(",")
    }
    dropped = HOP_BY_HOP | named | {"content-length"}
    return [(name, value) for name, value in pairs if name.lower() not in dropped]


@dataclass
class WakeLimiter:
    """Wake-ups per client (source IP): a bucket of `burst`, refilled at `per_second`. Pure: the caller
    passes the clock. At most `max_clients` buckets are kept (the least recently used go first)."""

    burst: int
    per_second: float
    max_clients: int = 10_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def admit(self, client: str, now: float) -> int:
        """0: this wake-up is admitted (and counted); else the whole seconds until one will be."""
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
        admitted = tokens >= 1.0
        if admitted:
            tokens -= 1.0
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            del self._buckets[next(iter(self._buckets))]
        return 0 if admitted else max(1, math.ceil((1.0 - tokens) / self.per_second))
