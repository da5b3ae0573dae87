"""Reads a provider pod's /auth/status at the pod IP (never through a Service) -> an observation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp

from .observations import AuthReport, ProbeOutcome
from .render import names


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


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
        expires_at=_time(payload.get("tokenExpiresAt")),
        rate_limited_until=_time(payload.get("rateLimitedUntil")),
        last_result=_text(last.get("result")) if isinstance(last, dict) else None,
        reason=_text(payload.get("reason")) or "",
        write_back_result=_text(write_back.get("lastResult")) if isinstance(write_back, dict) else None,
    )


async def probe_auth_status(
    session: aiohttp.ClientSession, pod_ip: str, timeout: float
) -> tuple[ProbeOutcome, AuthReport | None, str]:
    """(outcome, report, detail); detail says what went wrong in words, without response bodies."""
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    url = f"http://{host}:{names.HEALTH_PORT}/auth/status"
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False) as response:
            if response.status != 200:
                return "bad_response", None, f"HTTP {response.status}"
            body = await response.read()
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
