"""The operator reads the runtime's /auth/status JSON exactly as the runtime writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from claude_code_operator.probe import probe_auth_status, to_auth_report
from claude_code_provider.auth.status import Outcome, TokenInfo, WriteBack, derive_auth_status

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
CLI = {"loggedIn": True, "authMethod": "claude.ai", "subscriptionType": "max"}


def runtime_json(outcome: Outcome | None) -> object:
    status = derive_auth_status(
        cli=CLI, login_problem=None, token=TokenInfo(expires_at=NOW + timedelta(hours=8)), outcome=outcome,
        cli_version="2.1.0", now=NOW,
    )  # fmt: skip
    return httpx.Response(200, content=status.model_dump_json()).json()


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


async def test_probe_outcomes_without_a_network() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "http://127.100.0.9:8080/auth/status"
        return httpx.Response(503, text="token sk-ant-oat01-never-shown")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        outcome, report, detail = await probe_auth_status(client, "127.100.0.9", 1)
    assert (outcome, report) == ("bad_response", None)
    assert detail == "HTTP 503", "response bodies never reach status or logs"


def test_the_pods_write_back_outcome_reaches_the_operator() -> None:
    status = derive_auth_status(
        cli=CLI, login_problem=None, token=TokenInfo(expires_at=NOW, refreshable=True), outcome=None,
        cli_version="2.1.0", now=NOW, write_back=WriteBack(last_result="error", last_at=NOW),
    )  # fmt: skip
    report = to_auth_report(httpx.Response(200, content=status.model_dump_json()).json())
    assert report is not None
    assert report.write_back_result == "error"
    assert to_auth_report(runtime_json(None)).write_back_result is None  # type: ignore[union-attr]
