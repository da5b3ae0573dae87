"""What the activator does with a request, decided without I/O: pass through, hold (asking for one wake-up
per waking provider), or refuse with a status, Retry-After and an OpenAI-style error; the per-client
limit on wake-ups; the headers that travel."""

from __future__ import annotations

import pytest

from claude_code_operator.activator.decide import (
    Decision,
    Forward,
    Hold,
    Refuse,
    WakeLimiter,
    decide,
    to_error_body,
    to_forwarded_headers,
)
from claude_code_operator.activator.routes import Route

ASLEEP = Route("team", "alice")
WOKEN = Route("team", "alice", "10.0.0.7:4000")
BOUND, RETRY = 120.0, 5


def at(
    route: Route | None, *, held_for: tuple[str, str] | None = None, waking: bool = False, waited: float = 0.0
) -> Decision:
    return decide(route, held_for=held_for, waking=waking, waited=waited, bound=BOUND, retry_after=RETRY)


def test_the_first_request_for_a_sleeping_provider_is_held_and_asks_for_a_wake_up() -> None:
    assert at(ASLEEP) == Hold(wake=True)


def test_requests_for_a_waking_provider_are_held_without_another_wake_up() -> None:
    assert at(ASLEEP, waking=True) == Hold(wake=False)
    assert at(ASLEEP, held_for=("team", "alice"), waking=True, waited=30.0) == Hold(wake=False)


def test_a_wake_up_asked_for_longer_ago_than_the_bound_is_asked_for_again() -> None:
    # `waking` is False once the bound passed since the last wake-up: a new request asks again.
    assert at(ASLEEP, waking=False) == Hold(wake=True)


def test_a_woken_provider_gets_the_request_at_once_or_after_being_held() -> None:
    assert at(WOKEN) == Forward("10.0.0.7:4000")
    assert at(WOKEN, held_for=("team", "alice"), waking=True, waited=40.0) == Forward("10.0.0.7:4000")


def test_a_request_held_past_the_bound_gets_503_with_retry_after() -> None:
    decision = at(ASLEEP, held_for=("team", "alice"), waking=True, waited=120.0)
    assert isinstance(decision, Refuse)
    assert (decision.refusal.status, decision.retry_after) == (503, 5)
    assert to_error_body(decision) == {
        "error": {
            "message": "The provider team/alice was still waking after 120 s; try again in 5 s.",
            "type": "service_unavailable",
            "param": None,
            "code": "provider_waking",
        }
    }


def test_no_route_on_the_port_or_a_port_given_to_another_provider_is_a_503() -> None:
    for decision in (at(None), at(Route("team", "bob"), held_for=("team", "alice"), waking=True)):
        assert isinstance(decision, Refuse)
        assert (decision.refusal.status, decision.refusal.code, decision.retry_after) == (503, "provider_not_asleep", 1)


def test_a_client_gets_its_burst_of_wake_ups_then_one_per_refill() -> None:
    limiter = WakeLimiter(burst=3, per_second=0.1)
    assert [limiter.admit("10.1.0.5", now=100.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.admit("10.1.0.5", now=100.0) == 10, "one token refills in 10 s"
    assert limiter.admit("10.1.0.5", now=104.0) == 6
    assert limiter.admit("10.1.0.6", now=104.0) == 0, "another client has its own bucket"
    assert limiter.admit("10.1.0.5", now=110.0) == 0
    assert limiter.admit("10.1.0.5", now=110.0) == 10
    assert limiter.admit("10.1.0.5", now=1000.0) == 0, "refilled, never beyond the burst"
    assert [limiter.admit("10.1.0.5", now=1000.0) for _ in range(3)] == [0, 0, 10]


def test_the_limiter_keeps_at_most_its_number_of_clients() -> None:
    limiter = WakeLimiter(burst=1, per_second=0.01, max_clients=2)
    assert [limiter.admit(ip, now=0.0) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [0, 0, 0]
    assert limiter.admit("10.0.0.3", now=0.0) == 100, "the newest are remembered"
    assert limiter.admit("10.0.0.1", now=0.0) == 0, "the least recently used was forgotten"


@pytest.mark.parametrize(
    ("sent", "passed"),
    [
        (
            [
                ("Host", "alice.team.svc:4000"),
                ("Authorization", "Bearer sk-master"),
                ("Content-Type", "application/json"),
                ("Content-Length", "17"),
                ("X-Trace", "a"),
                ("X-Trace", "b"),
                ("Accept", "text/event-stream"),
            ],
            [
                ("Host", "alice.team.svc:4000"),
                ("Authorization", "Bearer sk-master"),
                ("Content-Type", "application/json"),
                ("X-Trace", "a"),
                ("X-Trace", "b"),
                ("Accept", "text/event-stream"),
            ],
        ),
        (
            [
                ("Connection", "keep-alive, X-Hop"),
                ("Keep-Alive", "timeout=5"),
                ("X-Hop", "1"),
                ("Transfer-Encoding", "chunked"),
                ("TE", "trailers"),
                ("Upgrade", "h2c"),
                ("Proxy-Authorization", "Basic x"),
                ("OpenAI-Organization", "org"),
            ],
            [("OpenAI-Organization", "org")],
        ),
    ],
)
def test_headers_travel_as_sent_except_the_connections_own(
    sent: list[tuple[str, str]], passed: list[tuple[str, str]]
) -> None:
    assert to_forwarded_headers(sent) == passed
