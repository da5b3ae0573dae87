"""The operator reads the runtime's /auth/status JSON exactly as the runtime writes it."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from claude_code_operator import contract
from claude_code_operator.observations import AuthReport
from claude_code_operator.probe import probe_auth_status, to_auth_report
from claude_code_provider.auth.status import Outcome, TokenInfo, WriteBack, derive_auth_status

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
CLI = {"loggedIn": True, "authMethod": "claude.ai", "subscriptionType": "max"}


def runtime_json(outcome: Outcome | None) -> object:
    status = derive_auth_status(
        cli=CLI, login_problem=None, token=TokenInfo(expires_at=NOW + timedelta(hours=8)), outcome=outcome,
        cli_version="2.1.0", now=NOW,
    )  # fmt: skip
    return json.loads(status.model_dump_json())


def test_logged_in_report() -> None:
    report = to_auth_report(runtime_json(Outcome(result="ok", at=NOW)))
    assert report is not None
    assert (report.logged_in, report.method, report.subscription_type) == (True, "claude.ai", "max")
    assert report.expires_at == NOW + timedelta(hours=8)
    assert report.rate_limited_until is None
    assert report.last_result == "ok"


def test_usage_limit_report_keeps_the_login_and_the_reset_time() -> None:
    until = NOW + timedelta(hours=2)
    report = to_auth_report(runtime_json(Outcome(result="rate_limited", at=NOW, until=until)))
    assert report is not None
    assert report.logged_in is True
    assert report.rate_limited_until == until
    assert report.last_result == "rate_limited"


def test_revoked_login_report() -> None:
    report = to_auth_report(runtime_json(Outcome(result="unauthorized", at=NOW, detail="401")))
    assert report is not None
    assert report.logged_in is False
    assert report.last_result == "unauthorized"
    assert "rejected" in report.reason


def test_anything_else_is_not_a_report() -> None:
    assert to_auth_report({"status": "ok"}) is None
    assert to_auth_report(["loggedIn"]) is None


@asynccontextmanager
async def runtime_at(answer: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """A stand-in runtime on its health port at a fresh loopback address: the pod IP to probe."""
    # 127.200-249.x.x: clear of the local cluster's pod range (127.100.0.0/16), whose runtimes listen on this port.
    ip = f"127.{secrets.randbelow(50) + 200}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    app = web.Application()
    app.router.add_get("/auth/status", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, ip, contract.HEALTH_PORT).start()
    try:
        yield ip
    finally:
        await runner.cleanup()


async def probe(ip: str, timeout: float = 2) -> tuple[str, object, str]:
    async with aiohttp.ClientSession() as session:
        return await probe_auth_status(session, ip, timeout)


async def test_a_runtime_answering_is_read() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(runtime_json(Outcome(result="ok", at=NOW)))

    async with runtime_at(answer) as ip:
        outcome, report, detail = await probe(ip)
    assert (outcome, detail) == ("ok", "")
    assert isinstance(report, AuthReport)
    assert report.logged_in


async def test_an_error_answer_is_bad_and_its_body_never_shown() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=503, text="token sk-ant-oat01-never-shown")

    async with runtime_at(answer) as ip:
        assert await probe(ip) == ("bad_response", None, "HTTP 503"), "response bodies never reach status or logs"


async def test_an_answer_that_is_not_the_runtimes_json_is_bad() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="<html>some other server</html>")

    async with runtime_at(answer) as ip:
        outcome, report, detail = await probe(ip)
    assert (outcome, report) == ("bad_response", None)
    assert "not the runtime's auth status" in detail


async def test_a_silent_runtime_times_out_and_a_closed_port_is_unreachable() -> None:
    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)  # well past the probe's time-out; the clean-up waits for it
        return web.Response(text="late")

    async with runtime_at(answer) as ip:
        assert await probe(ip, timeout=0.3) == ("timeout", None, "no answer within 0.3 s")
    outcome, report, _ = await probe(ip)  # the same address, nothing listening any more
    assert (outcome, report) == ("unreachable", None)


def test_the_pods_write_back_outcome_reaches_the_operator() -> None:
    status = derive_auth_status(
        cli=CLI, login_problem=None, token=TokenInfo(expires_at=NOW, refreshable=True), outcome=None,
        cli_version="2.1.0", now=NOW, write_back=WriteBack(last_result="error", last_at=NOW),
    )  # fmt: skip
    report = to_auth_report(json.loads(status.model_dump_json()))
    assert report is not None
    assert report.write_back_result == "error"
    assert to_auth_report(runtime_json(None)).write_back_result is None  # type: ignore[union-attr]


async def test_an_answer_over_64_kib_is_not_read_whole() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=b'{"loggedIn": true, "reason": "' + b"x" * (1024 * 1024) + b'"}')

    async with runtime_at(answer) as ip:
        assert await probe(ip) == ("bad_response", None, "the answer is larger than 64 KiB")


def test_a_huge_reason_is_cut_before_it_reaches_the_status() -> None:
    report = to_auth_report({"loggedIn": False, "authMethod": "y" * 5000, "reason": "z" * 40000})
    assert report is not None
    assert report.reason == "z" * 1021 + "..."
    assert report.method == "y" * 1021 + "..."
