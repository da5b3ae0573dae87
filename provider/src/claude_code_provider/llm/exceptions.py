"""``ClaudeCodeError`` as the LiteLLM exception that gives a proxy client the right HTTP status."""

from __future__ import annotations

import httpx
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

from ..errors import ClaudeCodeError, render_retry_after

PROVIDER = "claude-code"


def to_litellm_error(error: ClaudeCodeError, model: str) -> Exception:
    message = error.message
    headers = {"retry-after": render_retry_after(error.retry_after)} if error.retry_after is not None else {}
    response = httpx.Response(
        error.status, headers=headers, request=httpx.Request("POST", "http://claude-code.invalid/v1/complete")
    )
    match error.status:
        case 400:
            return BadRequestError(message, model, PROVIDER, response=response)
        case 401:
            return AuthenticationError(message, PROVIDER, model, response=response)
        case 403:
            return PermissionDeniedError(message, PROVIDER, model, response=response)
        case 404:
            return NotFoundError(message, model, PROVIDER, response=response)
        case 429:
            return RateLimitError(message, PROVIDER, model, response=response, headers=headers)
        case 503:
            return ServiceUnavailableError(message, PROVIDER, model, response=response)
        case 504:
            return Timeout(message, model, PROVIDER, exception_status_code=504)
        case 502:
            return BadGatewayError(message, PROVIDER, model, response=response)
        case _:
            return InternalServerError(message, PROVIDER, model, response=response)
