"""Names, labels and annotations of what the login command writes, in one place (contracts for the
operator's expiry warnings and the pod's write-back)."""

from __future__ import annotations

FIELD_MANAGER = "claude-code-login"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "claude-code-operator"
LOGIN_KIND_LABEL = "claudecode.dev/login-kind"
EXPIRES_AT_ANNOTATION = "claudecode.dev/login-expires-at"
WRITTEN_BY_ANNOTATION = "claudecode.dev/login-written-by"
WRITTEN_BY_COMMAND = "login-command"


def login_secret_name(name: str) -> str:
    """The login Secret of the ClaudeCodeProvider `name` (unless --secret-name says otherwise)."""
    return f"{name}-login"
