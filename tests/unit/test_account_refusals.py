"""Refusals of the account behind a login, as the pinned CLI reports them: each its own kind, status and
message, never "not logged in" where a new login would not help, never a bare 500."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from claude_agent_sdk import AssistantMessage, RateLimitEvent, RateLimitInfo, ResultMessage, TextBlock

from claude_code_provider.auth.status import Outcome, TokenInfo, derive_auth_status
from claude_code_provider.engine.translate import TurnState, judge_result
from claude_code_provider.errors import ClaudeCodeError, ErrorKind

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def refusal(status: int, error: str, text: str, *, rate_limited: bool = False) -> ClaudeCodeError:
    """What the CLI 2.1.332 sends for an API error: a synthetic assistant message, then an error result."""
    state = TurnState()
    if rate_limited:
        info = RateLimitInfo(status="rejected", resets_at=1_900_000_000, rate_limit_type="five_hour")
        state.observe(RateLimitEvent(rate_limit_info=info, uuid="u", session_id="s"))
    state.observe(AssistantMessage(content=[TextBlock(text=text)], model="<synthetic>", error=error))
    result = ResultMessage(
        subtype="success",
        duration_ms=1,
        duration_api_ms=0,
        is_error=True,
        num_turns=1,
        session_id="s",
        result=text,
        api_error_status=status,
    )
    with pytest.raises(ClaudeCodeError) as caught:
        judge_result(result, state, now=NOW.timestamp())
    return caught.value


REVOKED = "Failed to authenticate: OAuth token revoked. Please log in again or contact your administrator."


@pytest.mark.parametrize("status", [401, 403])
def test_a_revoked_login_is_401_login_revoked_saying_how_to_log_in_again(status: int) -> None:
    error = refusal(status, "authentication_failed", REVOKED)
    assert (error.kind, error.status) == (ErrorKind.LOGIN_REVOKED, 401)
    assert error.message.startswith("Anthropic revoked this login (OAuth token revoked")
    assert error.message.endswith("it needs a new login.")


def test_an_organization_without_oauth_access_is_403_and_a_new_login_does_not_help() -> None:
    text = (
        "Your organization has disabled Claude subscription access for Claude Code · Use an Anthropic API key "
        "instead, or ask your admin to enable access"
    )
    error = refusal(403, "oauth_org_not_allowed", text)
    assert (error.kind, error.status) == (ErrorKind.OAUTH_NOT_ALLOWED, 403)
    assert "(403 oauth_org_not_allowed). A new login to the same organization does not help" in error.message
    assert error.with_login_hint("Log in again.") is error, "a new login does not help"


def test_a_disabled_organization_is_403_not_a_bad_request() -> None:
    error = refusal(400, "unknown", "API Error: 400 This organization has been disabled.")
    assert (error.kind, error.status) == (ErrorKind.ORGANIZATION_DISABLED, 403)
    assert error.message.startswith("Anthropic has disabled the organization of this login")


@pytest.mark.parametrize(
    "text",
    [
        "API Error: Usage credits required for 1M context · turn on usage credits at "
        "https://claude.ai/settings/usage?from=cc_cli_limit_message (they take effect in a new session)",
        'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Extra usage is required '
        'for long context requests."}}',
    ],
)
def test_extra_usage_for_long_context_is_403_not_a_usage_limit_to_wait_for(text: str) -> None:
    error = refusal(429, "rate_limit", text)
    assert (error.kind, error.status, error.retry_after) == (ErrorKind.EXTRA_USAGE_REQUIRED, 403, None)
    assert "https://claude.ai/settings/usage" in error.message
    assert "Waiting does not help" in error.message


def test_a_plain_usage_limit_is_still_a_usage_limit() -> None:
    error = refusal(429, "rate_limit", "You've hit your 5-hour limit · resets 6:07pm (UTC)", rate_limited=True)
    assert error.kind is ErrorKind.USAGE_LIMIT


@pytest.mark.parametrize(
    ("kind", "logged_in", "reason"),
    [
        (ErrorKind.LOGIN_REVOKED, False, "Anthropic rejected the login on the last request: it was revoked."),
        (
            ErrorKind.ORGANIZATION_DISABLED,
            False,
            "Anthropic rejected the login on the last request: its organization has been disabled.",
        ),
        (
            ErrorKind.OAUTH_NOT_ALLOWED,
            False,
            "Anthropic rejected the login on the last request: its organization does not allow Claude "
            "subscription logins for Claude Code.",
        ),
        (ErrorKind.EXTRA_USAGE_REQUIRED, True, "Logged in."),
    ],
)
def test_auth_status_names_the_refusal(kind: ErrorKind, logged_in: bool, reason: str) -> None:
    outcome = Outcome.of(ClaudeCodeError(kind, "m"), NOW)
    status = derive_auth_status(
        cli={"loggedIn": True, "authMethod": "claude.ai"},
        login_problem=None,
        token=TokenInfo(),
        outcome=outcome,
        cli_version=None,
        now=NOW,
    )
    assert (status.logged_in, status.reason) == (logged_in, reason)
    assert status.model_dump(mode="json")["lastRequest"]["kind"] == kind.value
