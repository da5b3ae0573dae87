"""The one error hierarchy of the provider and runtime.

Every failure a client can see is a ``ClaudeCodeError`` with a ``kind``; the kind alone decides the
HTTP status (``STATUS_BY_KIND``), so the runtime, the LiteLLM adapter and the tests agree on it.
Messages are written for the person who has to act on them and never carry tokens or prompts.
"""

from __future__ import annotations

import math
from enum import StrEnum


class ErrorKind(StrEnum):
    NOT_LOGGED_IN = "not_logged_in"
    LOGIN_REVOKED = "login_revoked"
    ORGANIZATION_DISABLED = "organization_disabled"
    OAUTH_NOT_ALLOWED = "oauth_not_allowed"
    EXTRA_USAGE_REQUIRED = "extra_usage_required"
    PERMISSION_DENIED = "permission_denied"
    BILLING = "billing"
    MODEL_NOT_FOUND = "model_not_found"
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
    INTERNAL = "internal_error"
    RUNTIME_REFUSED = "runtime_refused"  # the runtime turned the LiteLLM side away (token or Host)


STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_LOGGED_IN: 401,
    ErrorKind.LOGIN_REVOKED: 401,
    # Refusals no retry and no new login to the same organization clears: "not allowed".
    ErrorKind.ORGANIZATION_DISABLED: 403,
    ErrorKind.OAUTH_NOT_ALLOWED: 403,
    ErrorKind.EXTRA_USAGE_REQUIRED: 403,
    ErrorKind.PERMISSION_DENIED: 403,
    # 402 has no LiteLLM or OpenAI client error class; 403 is what clients handle as "not allowed".
    ErrorKind.BILLING: 403,
    ErrorKind.MODEL_NOT_FOUND: 404,
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
    ErrorKind.INTERNAL: 500,
    ErrorKind.RUNTIME_REFUSED: 502,
}

#: Kinds a new login cures: their messages end with how to log in where the provider runs.
NEEDS_LOGIN = frozenset({ErrorKind.NOT_LOGGED_IN, ErrorKind.LOGIN_REVOKED})

#: Where the CLI runs in the LiteLLM process (``make proxy``): this machine's own login.
LAPTOP_LOGIN_HINT = (
    "Log in on this machine with `make login` in the claude-code-operator checkout (`claude auth login` with "
    "the Claude Code CLI bundled in claude-code-provider: `claude` is in its virtualenv's bin/), or with "
    "`make setup-token` and the proxy started with CLAUDE_CODE_OAUTH_TOKEN set to the token it prints."
)
#: The operator names a provider's pod ``<name>-claude-code``.
POD_SUFFIX = "-claude-code"


def derive_pod_login_hint(pod: str | None, namespace: str | None) -> str:
    """How to give the pod ``pod`` in ``namespace`` a new login (placeholders for what is unknown)."""
    ns = namespace or "NAMESPACE"
    name = pod.removesuffix(POD_SUFFIX) if pod and pod.endswith(POD_SUFFIX) else "NAME"
    command = f"kubectl claude-code login -n {ns} --name {name}"
    return (
        f"Log in again from a laptop with `claude setup-token`, then `{command} --token-stdin` (or `{command}` "
        f"to copy that laptop's `claude auth login`), or in the pod with `kubectl exec -it {pod or name + POD_SUFFIX} "
        f"-n {ns} -c claude -- claude auth login`."
    )


API_KEY_HINT = (
    "This provider serves a Claude Code subscription login (OAuth) only. For an Anthropic API key use "
    "LiteLLM's standard `anthropic/` provider (for example `model: anthropic/claude-sonnet-4-5`)."
)


def render_retry_after(seconds: float) -> str:
    """The ``Retry-After`` header for a retry hint: whole seconds, rounded up (never earlier than told)."""
    return str(max(1, math.ceil(seconds)))


class ClaudeCodeError(Exception):
    """A failure with a kind that maps to one HTTP status, an optional retry hint in seconds, and for a
    usage limit the window that was hit."""

    def __init__(
        self, kind: ErrorKind, message: str, *, retry_after: float | None = None, window: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.window = window  # the usage window a usage limit hit (five_hour, seven_day, ...)

    @property
    def status(self) -> int:
        return STATUS_BY_KIND[self.kind]

    def with_login_hint(self, hint: str) -> ClaudeCodeError:
        """This error, ending with ``hint`` when a new login cures it."""
        if self.kind not in NEEDS_LOGIN:
            return self
        return ClaudeCodeError(self.kind, f"{self.message} {hint}", retry_after=self.retry_after)

    def __repr__(self) -> str:
        return f"ClaudeCodeError({self.kind.value!r}, {self.message!r}, retry_after={self.retry_after!r})"
