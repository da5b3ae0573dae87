"""The one error hierarchy of the provider and runtime.

Every failure a client can see is a ``ClaudeCodeError`` with a ``kind``; the kind alone decides the
HTTP status (``STATUS_BY_KIND``), so the runtime, the LiteLLM adapter and the tests agree on it.
Messages are written for the person who has to act on them and never carry tokens or prompts.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    NOT_LOGGED_IN = "not_logged_in"
    API_KEY_REFUSED = "api_key_refused"
    BAD_REQUEST = "bad_request"
    USAGE_LIMIT = "usage_limit"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    OVERLOADED = "overloaded"
    UPSTREAM_ERROR = "upstream_error"
    CLI_NOT_FOUND = "cli_not_found"
    CLI_CRASHED = "cli_crashed"
    TIMEOUT = "timeout"
    RUNTIME_REFUSED = "runtime_refused"  # the runtime turned the LiteLLM side away (token or Host)


STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_LOGGED_IN: 401,
    ErrorKind.API_KEY_REFUSED: 400,
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.USAGE_LIMIT: 429,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.BUSY: 429,
    ErrorKind.OVERLOADED: 503,
    ErrorKind.UPSTREAM_ERROR: 503,
    ErrorKind.CLI_NOT_FOUND: 500,
    ErrorKind.CLI_CRASHED: 502,
    ErrorKind.TIMEOUT: 504,
    ErrorKind.RUNTIME_REFUSED: 502,
}

LOGIN_HINT = (
    "Run `claude setup-token` (or `claude login`) on your own machine and update the credentials "
    "Secret with the new login."
)

API_KEY_HINT = (
    "This provider serves a Claude Code subscription login (OAuth) only. For an Anthropic API key use "
    "LiteLLM's standard `anthropic/` provider (for example `model: anthropic/claude-sonnet-4-5`)."
)


class ClaudeCodeError(Exception):
    """A failure with a kind that maps to one HTTP status, and an optional retry hint in seconds."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return STATUS_BY_KIND[self.kind]

    def __repr__(self) -> str:
        return f"ClaudeCodeError({self.kind.value!r}, {self.message!r}, retry_after={self.retry_after!r})"
