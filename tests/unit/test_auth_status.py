"""The runtime's login status corrects what `claude auth status` says with expiry and real outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from claude_code_provider.auth.status import AuthStatus, Outcome, TokenInfo, derive_auth_status
from claude_code_provider.errors import ClaudeCodeError, ErrorKind

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
CLI_OK = {"loggedIn": True, "authMethod": "claude.ai", "subscriptionType": "max"}


def status(
    *,
    cli: dict[str, Any] | None = None,
    login_problem: str | None = None,
    token: TokenInfo | None = None,
    outcome: Outcome | None = None,
    now: datetime = NOW,
) -> AuthStatus:
    return derive_auth_status(
        cli=CLI_OK if cli is None else cli,
        login_problem=login_problem,
        token=token or TokenInfo(),
        outcome=outcome,
        cli_version="2.1.0 (Claude Code)",
        now=now,
    )


def test_logged_in() -> None:
    result = status(token=TokenInfo(expires_at=NOW + timedelta(hours=1), refreshable=True))
    assert result.logged_in
    assert result.auth_method == "claude.ai"
    assert result.subscription_type == "max"
    assert result.rate_limited_until is None


def test_cli_reporting_no_login_is_not_logged_in() -> None:
    result = status(cli={"loggedIn": False})
    assert not result.logged_in
    assert "no login" in result.reason


def test_cli_unreachable_is_not_logged_in() -> None:
    assert not derive_auth_status(
        cli=None, login_problem=None, token=TokenInfo(), outcome=None, cli_version=None, now=NOW
    ).logged_in


def test_cli_logged_in_but_last_request_unauthorized_is_not_logged_in() -> None:
    outcome = Outcome.of(ClaudeCodeError(ErrorKind.NOT_LOGGED_IN, "revoked"), NOW - timedelta(minutes=1))
    result = status(outcome=outcome)
    assert not result.logged_in
    assert "rejected the login" in result.reason
    assert result.last_request == outcome


def test_a_later_success_clears_an_unauthorized_outcome() -> None:
    assert status(outcome=Outcome.of(None, NOW)).logged_in


def test_expired_token_without_refresh_token_is_not_logged_in() -> None:
    result = status(token=TokenInfo(expires_at=NOW - timedelta(seconds=1), refreshable=False))
    assert not result.logged_in
    assert "expired" in result.reason


def test_expired_token_with_refresh_token_is_logged_in() -> None:
    result = status(token=TokenInfo(expires_at=NOW - timedelta(hours=3), refreshable=True))
    assert result.logged_in
    assert result.token_expires_at == NOW - timedelta(hours=3)


@pytest.mark.parametrize("method", ["api_key", "api_key_helper"])
def test_api_key_auth_methods_are_not_logged_in(method: str) -> None:
    result = status(cli={"loggedIn": True, "authMethod": method})
    assert not result.logged_in
    assert method in result.reason
    assert "OAuth only" in result.reason


def test_rate_limited_outcome_is_logged_in_with_rate_limited_until() -> None:
    error = ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit reached", retry_after=1800)
    result = status(outcome=Outcome.of(error, NOW))
    assert result.logged_in
    assert result.rate_limited_until == NOW + timedelta(minutes=30)
    assert "usage limit" in result.reason


def test_rate_limit_is_cleared_once_the_reset_time_has_passed() -> None:
    error = ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit reached", retry_after=60)
    result = status(outcome=Outcome.of(error, NOW), now=NOW + timedelta(minutes=2))
    assert result.logged_in
    assert result.rate_limited_until is None
    assert result.reason == "Logged in."


def test_a_login_problem_wins_over_everything() -> None:
    problem = ".credentials.json in the login Secret is not valid JSON."
    result = status(
        login_problem=problem,
        token=TokenInfo(expires_at=NOW + timedelta(hours=1), refreshable=True),
        outcome=Outcome.of(None, NOW),
    )
    assert not result.logged_in
    assert result.reason == problem


def test_json_uses_camel_case_keys_and_never_a_token() -> None:
    token = "sk-ant-oat01-SECRET-VALUE"
    cli = {**CLI_OK, "oauthAccount": {"accessToken": token}, "token": token}
    error = ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit reached", retry_after=600)
    result = status(
        cli=cli,
        token=TokenInfo(expires_at=NOW + timedelta(hours=1), refreshable=True),
        outcome=Outcome.of(error, NOW),
    )
    text = result.model_dump_json()
    data = json.loads(text)
    assert {
        "loggedIn",
        "authMethod",
        "subscriptionType",
        "tokenExpiresAt",
        "refreshable",
        "writeBack",
        "cliVersion",
        "lastRequest",
        "rateLimitedUntil",
        "rateLimitedWindow",
        "usage",
        "requests",
        "reason",
    } == set(data)
    assert data["refreshable"] is True
    assert data["loggedIn"] is True
    assert data["cliVersion"] == "2.1.0 (Claude Code)"
    assert data["lastRequest"]["result"] == "rate_limited"
    assert data["rateLimitedUntil"].startswith("2025-10-01T12:10:00")
    assert token not in text
    assert "SECRET" not in text


@pytest.mark.parametrize(
    ("kind", "result"),
    [
        (ErrorKind.NOT_LOGGED_IN, "unauthorized"),
        (ErrorKind.USAGE_LIMIT, "rate_limited"),
        (ErrorKind.RATE_LIMITED, "upstream_error"),
        (ErrorKind.OVERLOADED, "upstream_error"),
        (ErrorKind.UPSTREAM_ERROR, "upstream_error"),
        (ErrorKind.TIMEOUT, "upstream_error"),
        (ErrorKind.CLI_CRASHED, "upstream_error"),
        (ErrorKind.BAD_REQUEST, "upstream_error"),
    ],
)
def test_outcome_of_each_error_kind(kind: ErrorKind, result: str) -> None:
    outcome = Outcome.of(ClaudeCodeError(kind, f"message for {kind.value}"), NOW)
    assert outcome.result == result
    assert outcome.at == NOW
    assert outcome.detail == f"message for {kind.value}"


def test_outcome_of_success() -> None:
    outcome = Outcome.of(None, NOW)
    assert (outcome.result, outcome.until, outcome.detail) == ("ok", None, None)


def test_usage_limit_outcome_until_is_now_plus_retry_after() -> None:
    with_hint = Outcome.of(ClaudeCodeError(ErrorKind.USAGE_LIMIT, "m", retry_after=90), NOW)
    assert with_hint.until == NOW + timedelta(seconds=90)
    without_hint = Outcome.of(ClaudeCodeError(ErrorKind.USAGE_LIMIT, "m"), NOW)
    assert without_hint.until is None


def test_a_rate_limit_without_reset_time_does_not_set_rate_limited_until() -> None:
    result = status(outcome=Outcome.of(ClaudeCodeError(ErrorKind.USAGE_LIMIT, "m"), NOW))
    assert result.logged_in
    assert result.rate_limited_until is None
