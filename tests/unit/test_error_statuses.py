"""Every error kind has one HTTP status, and LiteLLM raises the exception that carries it."""

from __future__ import annotations

import pytest
from litellm.exceptions import (
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
)

from claude_code_provider.errors import STATUS_BY_KIND, ClaudeCodeError, ErrorKind, render_retry_after
from claude_code_provider.llm.exceptions import to_litellm_error
from claude_code_provider.protocol import ErrorEvent

MODEL = "claude-sonnet-4-5"


def test_every_error_kind_has_a_status() -> None:
    assert set(STATUS_BY_KIND) == set(ErrorKind)


# Written out, not derived from the code under test; every kind is in it (below).
PROMISED_STATUSES = [
    (ErrorKind.NOT_LOGGED_IN, 401),
    (ErrorKind.LOGIN_REVOKED, 401),
    (ErrorKind.ORGANIZATION_DISABLED, 403),
    (ErrorKind.OAUTH_NOT_ALLOWED, 403),
    (ErrorKind.EXTRA_USAGE_REQUIRED, 403),
    (ErrorKind.PERMISSION_DENIED, 403),
    (ErrorKind.BILLING, 403),
    (ErrorKind.MODEL_NOT_FOUND, 404),
    (ErrorKind.INTERNAL, 500),
    (ErrorKind.USAGE_LIMIT, 429),
    (ErrorKind.RATE_LIMITED, 429),
    (ErrorKind.BUSY, 429),
    (ErrorKind.OVERLOADED, 503),
    (ErrorKind.UPSTREAM_ERROR, 503),
    (ErrorKind.CLI_NOT_FOUND, 500),
    (ErrorKind.CLI_CRASHED, 502),
    (ErrorKind.TIMEOUT, 504),
    (ErrorKind.API_KEY_REFUSED, 400),
    (ErrorKind.BAD_REQUEST, 400),
    (ErrorKind.RUNTIME_REFUSED, 502),
]


def test_every_kind_has_a_promised_status_and_a_litellm_exception() -> None:
    assert {kind for kind, _ in PROMISED_STATUSES} == set(ErrorKind)
    assert {kind for kind, _, _ in LITELLM_EXCEPTIONS} == set(ErrorKind)


@pytest.mark.parametrize(("kind", "status"), PROMISED_STATUSES)
def test_promised_statuses(kind: ErrorKind, status: int) -> None:
    assert ClaudeCodeError(kind, "m").status == status


def test_error_keeps_message_and_retry_hint() -> None:
    error = ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit reached", retry_after=12.5)
    assert str(error) == "limit reached"
    assert error.retry_after == 12.5
    assert "usage_limit" in repr(error)


LITELLM_EXCEPTIONS = [
    (ErrorKind.NOT_LOGGED_IN, AuthenticationError, 401),
    (ErrorKind.LOGIN_REVOKED, AuthenticationError, 401),
    (ErrorKind.ORGANIZATION_DISABLED, PermissionDeniedError, 403),
    (ErrorKind.OAUTH_NOT_ALLOWED, PermissionDeniedError, 403),
    (ErrorKind.EXTRA_USAGE_REQUIRED, PermissionDeniedError, 403),
    (ErrorKind.PERMISSION_DENIED, PermissionDeniedError, 403),
    (ErrorKind.BILLING, PermissionDeniedError, 403),
    (ErrorKind.MODEL_NOT_FOUND, NotFoundError, 404),
    (ErrorKind.INTERNAL, InternalServerError, 500),
    (ErrorKind.API_KEY_REFUSED, BadRequestError, 400),
    (ErrorKind.BAD_REQUEST, BadRequestError, 400),
    (ErrorKind.USAGE_LIMIT, RateLimitError, 429),
    (ErrorKind.RATE_LIMITED, RateLimitError, 429),
    (ErrorKind.BUSY, RateLimitError, 429),
    (ErrorKind.OVERLOADED, ServiceUnavailableError, 503),
    (ErrorKind.UPSTREAM_ERROR, ServiceUnavailableError, 503),
    (ErrorKind.CLI_NOT_FOUND, InternalServerError, 500),
    (ErrorKind.CLI_CRASHED, BadGatewayError, 502),
    (ErrorKind.TIMEOUT, Timeout, 504),
    (ErrorKind.RUNTIME_REFUSED, BadGatewayError, 502),
]


@pytest.mark.parametrize(("kind", "exception_class", "status"), LITELLM_EXCEPTIONS)
def test_each_kind_becomes_the_litellm_exception_with_its_status(
    kind: ErrorKind, exception_class: type[Exception], status: int
) -> None:
    message = f"something about {kind.value}"
    converted = to_litellm_error(ClaudeCodeError(kind, message), MODEL)
    assert type(converted) is exception_class
    assert converted.status_code == status  # type: ignore[attr-defined]
    assert message in str(converted)


def test_a_usage_limit_carries_retry_after_rounded_up() -> None:
    converted = to_litellm_error(ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit", retry_after=41.2), MODEL)
    assert isinstance(converted, RateLimitError)
    assert converted.response.headers["retry-after"] == "42"
    assert converted.headers is not None
    assert converted.headers["retry-after"] == "42"


@pytest.mark.parametrize(("seconds", "header"), [(0.2, "1"), (1.0, "1"), (1.4, "2"), (1799.6, "1800"), (-3, "1")])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(seconds: float, header: str) -> None:
    assert render_retry_after(seconds) == header


def test_no_retry_after_header_without_a_hint() -> None:
    converted = to_litellm_error(ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit"), MODEL)
    assert isinstance(converted, RateLimitError)
    assert "retry-after" not in converted.response.headers


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_event_round_trips_the_error(kind: ErrorKind) -> None:
    error = ClaudeCodeError(kind, "what to do", retry_after=3.0)
    back = ErrorEvent.of(error).to_error()
    assert (back.kind, back.message, back.retry_after, back.status) == (kind, "what to do", 3.0, error.status)
