"""The operator <-> runtime contract, in one place: what the operator's pods and Secrets say and what
the runtime (`claude_code_provider`) reads, and what its `/auth/status` answers.

The runtime is another package (it does not depend on this one) and keeps its own copies of these
names; `tests/unit/test_contract.py` holds the two together, so a rename on one side fails a test.
"""

from __future__ import annotations

from typing import Final

#: On the login Secret: when its login ends, and who wrote it last (the login command, or `pod/<uid>`
#: after a write-back). The pod carries the expiry it started with under the same annotation.
EXPIRES_AT_ANNOTATION: Final = "claudecode.dev/login-expires-at"
WRITTEN_BY_ANNOTATION: Final = "claudecode.dev/login-written-by"
WRITTEN_BY_COMMAND: Final = "login-command"

#: On a login Secret (and a `masterKeySecret`): the one ClaudeCodeProvider of its namespace, by name,
#: that may mount it, have it watched and have it written back. A Secret without it is never used: its
#: owner opts in (the login command sets it). The operator's own children carry it too, naming their
#: resource, and the operator watches only Secrets that carry it (a server-side selector).
PROVIDER_LABEL: Final = "claudecode.dev/provider"

#: On a ClaudeCodeProvider: when (RFC 3339, UTC) the activator last asked for a sleeping provider to be
#: woken, because a request for it is being held (the activator writes it, the operator reads it).
WAKE_REQUESTED_ANNOTATION: Final = "claudecode.dev/wake-requested-at"

#: The login's file names in the pod, whatever the Secret's keys are called.
CREDENTIALS_FILE: Final = ".credentials.json"
CLAUDE_JSON_FILE: Final = ".claude.json"
OAUTH_TOKEN_FILE: Final = "oauth-token"

#: Keys of the generated Secret.
RUNTIME_TOKEN_KEY: Final = "runtime-token"
MASTER_KEY_KEY: Final = "master-key"

#: The runtime's health and auth status port (pod network), its loopback completion API, LiteLLM's port.
HEALTH_PORT: Final = 8080
RUNTIME_API_URL: Final = "http://127.0.0.1:8081"
HTTP_PORT: Final = 4000
AUTH_STATUS_PATH: Final = "/auth/status"
#: The most of an /auth/status answer the operator reads (the runtime's is well under 4 KiB).
AUTH_STATUS_MAX_BYTES: Final = 64 * 1024

#: Environment of the `claude` container (the runtime's settings).
ENV_LOGIN_DIR: Final = "CLAUDE_LOGIN_DIR"
ENV_CONFIG_DIR: Final = "CLAUDE_CONFIG_DIR"
ENV_RUNTIME_TOKEN: Final = "CLAUDE_RUNTIME_TOKEN"
ENV_MAX_IN_FLIGHT: Final = "CLAUDE_RUNTIME_MAX_IN_FLIGHT"
ENV_MAX_QUEUED: Final = "CLAUDE_RUNTIME_MAX_QUEUED"
ENV_QUEUE_TIMEOUT: Final = "CLAUDE_RUNTIME_QUEUE_TIMEOUT"
ENV_LOGIN_SECRET: Final = "CLAUDE_LOGIN_SECRET"
ENV_LOGIN_SECRET_NAMESPACE: Final = "CLAUDE_LOGIN_SECRET_NAMESPACE"
ENV_LOGIN_CREDENTIALS_KEY: Final = "CLAUDE_LOGIN_CREDENTIALS_KEY"
ENV_LOGIN_CLAUDE_JSON_KEY: Final = "CLAUDE_LOGIN_CLAUDE_JSON_KEY"
ENV_POD_UID: Final = "CLAUDE_POD_UID"
#: Environment of the LiteLLM container: where the runtime's completion API is.
ENV_RUNTIME_URL: Final = "CLAUDE_RUNTIME_URL"

#: /auth/status `lastRequest.result`: how the last real request ended. `rate_limited` is the
#: subscription's usage limit (with `rateLimitedUntil` while it lasts), never Anthropic throttling,
#: which the runtime counts as an upstream error.
OUTCOME_OK: Final = "ok"
OUTCOME_UNAUTHORIZED: Final = "unauthorized"
OUTCOME_USAGE_LIMIT: Final = "rate_limited"
OUTCOME_UPSTREAM_ERROR: Final = "upstream_error"
#: /auth/status `authMethod` values that are an Anthropic API key, not a subscription login.
API_KEY_METHODS: Final = frozenset({"api_key", "api_key_helper"})
#: /auth/status `writeBack.lastResult` values that mean a refreshed login is not in the Secret.
WRITE_BACK_FAILED: Final = frozenset({"error", "gave_up"})
#: `writeBack.lastResult` when a newer login (another lineage) arrived: the pod stopped writing it back.
WRITE_BACK_SUPERSEDED: Final = "superseded"
#: /auth/status `lastRequest.kind` values (the runtime's ErrorKind) that the operator's conditions give
#: reasons of their own: refusals of the account that a new login to it does not cure, a revoked login,
#: and a request that needs the plan's extra usage.
KIND_LOGIN_REVOKED: Final = "login_revoked"
KIND_ORGANIZATION_DISABLED: Final = "organization_disabled"
KIND_OAUTH_NOT_ALLOWED: Final = "oauth_not_allowed"
KIND_EXTRA_USAGE_REQUIRED: Final = "extra_usage_required"
#: What people call the plan's usage windows (/auth/status `usage[].window`, `rateLimitedWindow`);
#: another window is named by itself, underscores as spaces.
WINDOW_NAMES: Final = {
    "five_hour": "five-hour",
    "seven_day": "weekly",
    "seven_day_opus": "weekly Opus",
    "seven_day_sonnet": "weekly Sonnet",
    "overage": "extra-usage",
}


def to_window_name(window: str) -> str:
    """`five-hour` for `five_hour` (the runtime's `usage.to_window_name`)."""
    return WINDOW_NAMES.get(window, window.replace("_", " "))
