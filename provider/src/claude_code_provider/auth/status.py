"""Pure: whether the login works, from what the CLI says, the token's expiry and real outcomes.

``claude auth status`` reads local files only: it reports ``loggedIn: true`` for an expired, revoked
or made-up token. The last real request's outcome and the stored expiry correct it. A usage limit is
reported as such, never as a login problem, and a later success clears it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ClaudeCodeError, ErrorKind
from ..usage import UsageWindow, to_window_name

OutcomeKind = Literal["ok", "unauthorized", "rate_limited", "upstream_error"]

_API_KEY_METHODS = {"api_key", "api_key_helper"}
#: Kinds that say the login cannot serve at all, with what /auth/status then says.
_LOGIN_REFUSALS: dict[ErrorKind, str] = {
    ErrorKind.NOT_LOGGED_IN: "Anthropic rejected the login on the last request (revoked or expired).",
    ErrorKind.LOGIN_REVOKED: "Anthropic rejected the login on the last request: it was revoked.",
    ErrorKind.ORGANIZATION_DISABLED: (
        "Anthropic rejected the login on the last request: its organization has been disabled."
    ),
    ErrorKind.OAUTH_NOT_ALLOWED: (
        "Anthropic rejected the login on the last request: its organization does not allow Claude "
        "subscription logins for Claude Code."
    ),
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)


class Outcome(_Model):
    """How the last real request through the login ended."""

    result: OutcomeKind
    at: datetime
    until: datetime | None = Field(default=None, description="when a usage limit resets")
    detail: str | None = None
    kind: ErrorKind | None = Field(default=None, description="the error kind, finer than the result")
    window: str | None = Field(default=None, description="the usage window a usage limit hit")

    @classmethod
    def of(cls, error: ClaudeCodeError | None, now: datetime) -> Outcome:
        if error is None:
            return cls(result="ok", at=now)
        if error.kind in _LOGIN_REFUSALS:
            return cls(result="unauthorized", at=now, detail=error.message, kind=error.kind)
        if error.kind is ErrorKind.USAGE_LIMIT:
            until = (
                datetime.fromtimestamp(now.timestamp() + error.retry_after, UTC)
                if error.retry_after is not None
                else None
            )
            return cls(
                result="rate_limited", at=now, until=until, detail=error.message, kind=error.kind, window=error.window
            )
        return cls(result="upstream_error", at=now, detail=error.message, kind=error.kind)


class TokenInfo(_Model):
    expires_at: datetime | None = None
    refreshable: bool = False


class WriteBack(_Model):
    """The pod's write-back of refreshed logins to its Secret (absent when off)."""

    last_result: str | None = Field(default=None, alias="lastResult")
    last_at: datetime | None = Field(default=None, alias="lastAt")
    last_written_at: datetime | None = Field(default=None, alias="lastWrittenAt")
    written_expires_at: datetime | None = Field(default=None, alias="writtenExpiresAt")


class Requests(_Model):
    """The completion API's requests since the runtime started: what the operator reads to tell an idle
    pod (it keeps its own clock: only whether these changed between two reads matters)."""

    started: int = Field(ge=0, description="requests received, never going down")
    in_flight: int = Field(ge=0, alias="inFlight", description="received and not answered yet (queued or served)")


class AuthStatus(_Model):
    """The JSON of ``/auth/status``; never a token."""

    logged_in: bool = Field(alias="loggedIn")
    auth_method: str | None = Field(alias="authMethod")
    subscription_type: str | None = Field(alias="subscriptionType")
    token_expires_at: datetime | None = Field(alias="tokenExpiresAt")
    refreshable: bool = Field(default=False, description="the CLI renews the access token itself")
    write_back: WriteBack | None = Field(default=None, alias="writeBack")
    cli_version: str | None = Field(alias="cliVersion")
    last_request: Outcome | None = Field(alias="lastRequest")
    rate_limited_until: datetime | None = Field(alias="rateLimitedUntil")
    rate_limited_window: str | None = Field(default=None, alias="rateLimitedWindow")
    usage: list[UsageWindow] = Field(default_factory=list, description="the plan's usage windows, last heard")
    requests: Requests | None = None
    reason: str


def derive_auth_status(
    *,
    cli: dict[str, Any] | None,
    login_problem: str | None,
    token: TokenInfo,
    outcome: Outcome | None,
    cli_version: str | None,
    now: datetime,
    write_back: WriteBack | None = None,
    usage: list[UsageWindow] | None = None,
    requests: Requests | None = None,
) -> AuthStatus:
    cli = cli or {}
    method = cli.get("authMethod") if isinstance(cli.get("authMethod"), str) else None
    limited_until = (
        outcome.until if outcome is not None and outcome.result == "rate_limited" and outcome.until else None
    )
    if limited_until is not None and limited_until <= now:
        limited_until = None

    if login_problem is not None:
        logged_in, reason = False, login_problem
    elif method in _API_KEY_METHODS:
        logged_in, reason = (
            False,
            f"An Anthropic API key ({method}) is configured; this runtime accepts OAuth only.",
        )
    elif not cli.get("loggedIn"):
        logged_in, reason = False, "Claude Code reports no login."
    elif outcome is not None and outcome.result == "unauthorized":
        logged_in, reason = False, _LOGIN_REFUSALS[outcome.kind or ErrorKind.NOT_LOGGED_IN]
    elif token.expires_at is not None and token.expires_at <= now and not token.refreshable:
        logged_in, reason = False, "The access token expired and there is no refresh token."
    elif limited_until is not None:
        name = to_window_name(outcome.window if outcome is not None else None)
        logged_in, reason = (
            True,
            f"Logged in; the subscription's {name + ' ' if name else ''}usage limit is reached until it resets.",
        )
    else:
        logged_in, reason = True, "Logged in."
    return AuthStatus(
        logged_in=logged_in,
        auth_method=method,
        subscription_type=cli.get("subscriptionType") if isinstance(cli.get("subscriptionType"), str) else None,
        token_expires_at=token.expires_at,
        refreshable=token.refreshable,
        write_back=write_back,
        cli_version=cli_version,
        last_request=outcome,
        rate_limited_until=limited_until,
        rate_limited_window=outcome.window if limited_until is not None and outcome is not None else None,
        usage=usage or [],
        requests=requests,
        reason=reason,
    )
