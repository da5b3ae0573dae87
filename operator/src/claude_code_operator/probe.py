"""Reads a provider pod's /auth/status at the pod IP (never through a Service) -> an observation."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import aiohttp

from . import contract
from .observations import AuthReport, RequestCount, UsageReport
from .wire import parse_rfc3339, truncate

ProbeOutcome = Literal["ok", "unreachable", "timeout", "bad_response"]
#: What a window's name may look like in a status (the CLI's are five_hour, seven_day_opus, ...).
_WINDOW = re.compile(r"^[a-z0-9_]{1,64}$")
#: The most usage windows read from one answer (the CLI knows five).
_MAX_WINDOWS = 16


def _text(value: Any) -> str | None:
    """A string of the answer, cut to a size a status can carry (the pod may be hostile or broken)."""
    return truncate(value) if isinstance(value, str) else None


def _window(value: Any) -> str | None:
    return value if isinstance(value, str) and _WINDOW.match(value) else None


def _percent(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        return None
    return round(float(value), 2)


def to_usage(payload: Any) -> tuple[UsageReport, ...]:
    """The windows of /auth/status `usage` with a name the status can carry; others are left out."""
    if not isinstance(payload, list):
        return ()
    out = []
    for item in payload[:_MAX_WINDOWS]:
        name = _window(item.get("window")) if isinstance(item, dict) else None
        if name is not None:
            utilization, resets_at = _percent(item.get("utilization")), parse_rfc3339(item.get("resetsAt"))
            out.append(UsageReport(window=name, utilization=utilization, resets_at=resets_at))
    return tuple(out)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def to_request_count(payload: Any) -> RequestCount | None:
    """/auth/status `requests`, when both counts are there and sane."""
    if not isinstance(payload, dict):
        return None
    started, in_flight = (
        _count(payload.get(contract.REQUESTS_STARTED)),
        _count(payload.get(contract.REQUESTS_IN_FLIGHT)),
    )
    return RequestCount(started, in_flight) if started is not None and in_flight is not None else None


def to_auth_report(payload: Any) -> AuthReport | None:
    """The runtime's JSON (claude_code_provider.auth.status.AuthStatus) -> the fields the operator uses."""
    if not isinstance(payload, dict) or not isinstance(payload.get("loggedIn"), bool):
        return None
    last = payload.get("lastRequest")
    write_back = payload.get("writeBack")
    return AuthReport(
        logged_in=payload["loggedIn"],
        method=_text(payload.get("authMethod")),
        subscription_type=_text(payload.get("subscriptionType")),
        expires_at=parse_rfc3339(payload.get("tokenExpiresAt")),
        rate_limited_until=parse_rfc3339(payload.get("rateLimitedUntil")),
        last_result=_text(last.get("result")) if isinstance(last, dict) else None,
        reason=_text(payload.get("reason")) or "",
        write_back_result=_text(write_back.get("lastResult")) if isinstance(write_back, dict) else None,
        last_kind=_text(last.get("kind")) if isinstance(last, dict) else None,
        limited_window=_window(payload.get("rateLimitedWindow")),
        usage=to_usage(payload.get("usage")),
        requests=to_request_count(payload.get(contract.REQUESTS_FIELD)),
    )


def auth_status_url(pod_ip: str) -> str:
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    return f"http://{host}:{contract.HEALTH_PORT}{contract.AUTH_STATUS_PATH}"


async def read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body: ``read(n)`` returns what has arrived so far, which on a slow
    answer is less than the whole body even when the whole body is over the limit."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def probe_auth_status(
    session: aiohttp.ClientSession, pod_ip: str, timeout: float
) -> tuple[ProbeOutcome, AuthReport | None, str]:
    """(outcome, report, detail); detail says what went wrong in words, without response bodies."""
    try:
        async with session.get(
            auth_status_url(pod_ip), timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
        ) as response:
            if response.status != 200:
                return "bad_response", None, f"HTTP {response.status}"
            body = await read_at_most(response.content, contract.AUTH_STATUS_MAX_BYTES + 1)
            if len(body) > contract.AUTH_STATUS_MAX_BYTES:
                return "bad_response", None, f"the answer is larger than {contract.AUTH_STATUS_MAX_BYTES // 1024} KiB"
    except TimeoutError:  # aiohttp's time-outs are asyncio's
        return "timeout", None, f"no answer within {timeout:g} s"
    except aiohttp.ClientError as error:
        return "unreachable", None, f"{type(error).__name__}"
    try:
        report = to_auth_report(json.loads(body))
    except ValueError:  # not JSON, or not UTF-8
        report = None
    if report is None:
        return "bad_response", None, "the answer is not the runtime's auth status JSON"
    return "ok", report, ""
