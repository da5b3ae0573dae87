"""Names and labels that only the login command writes (the operator's contract names are in
`contract`)."""

from __future__ import annotations

FIELD_MANAGER = "claude-code-login"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "claude-code-operator"
LOGIN_KIND_LABEL = "claudecode.dev/login-kind"
