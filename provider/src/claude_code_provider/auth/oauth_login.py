"""Pure: what an OAuth login file (``.credentials.json``) is worth, and the Secret patch that saves it.

A refresh token is single-use: the CLI that refreshed holds the only working login, so it must reach
the Secret, and nothing may ever write a blank or broken login, or the pod's own login over one a
person put in the Secret since (``lineage``). Without a lineage record, "newer" is the access token's
``expiresAt``: every refresh and every fresh ``claude auth login`` moves it forward.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .lineage import Lineage

EXPIRES_AT_ANNOTATION = "claudecode.dev/login-expires-at"
WRITTEN_BY_ANNOTATION = "claudecode.dev/login-written-by"
_API_KEY_PREFIX = "sk-ant-api"

PatchOutcome = Literal["written", "invalid", "stale", "superseded", "unchanged"]


@dataclass(frozen=True)
class OAuthLogin:
    """The facts of a valid OAuth login; the tokens themselves are never kept here."""

    expires_at_ms: int

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at_ms / 1000, UTC)


def parse_oauth_login(raw: bytes | None) -> OAuthLogin | None:
    """The login in ``raw``, or None unless it has an access and a refresh token and an expiry."""
    if not raw:
        return None
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        return None
    oauth = parsed.get("claudeAiOauth") if isinstance(parsed, dict) else None
    if not isinstance(oauth, dict):
        return None
    access, refresh, expires = oauth.get("accessToken"), oauth.get("refreshToken"), oauth.get("expiresAt")
    if not (isinstance(access, str) and access and not access.startswith(_API_KEY_PREFIX)):
        return None
    if not (isinstance(refresh, str) and refresh) or isinstance(expires, bool) or not isinstance(expires, int):
        return None
    return OAuthLogin(expires_at_ms=expires) if expires > 0 else None


def is_newer_login(candidate: bytes | None, than: bytes | None) -> bool:
    """``candidate`` is a valid login expiring strictly later than ``than`` (or ``than`` is no login)."""
    new = parse_oauth_login(candidate)
    if new is None:
        return False
    old = parse_oauth_login(than)
    return old is None or new.expires_at_ms > old.expires_at_ms


def to_rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_object(raw: bytes | None) -> bool:
    try:
        return raw is not None and isinstance(json.loads(raw), dict)
    except ValueError:
        return False


def derive_secret_patch(
    secret_data: Mapping[str, bytes],
    resource_version: str,
    *,
    credentials_key: str,
    claude_json_key: str,
    credentials: bytes | None,
    claude_json: bytes | None,
    writer: str,
    lineage: Lineage | None,
) -> tuple[dict[str, Any] | None, PatchOutcome]:
    """The merge patch saving ``credentials`` (and ``claude_json`` when the Secret holds that key) into a
    Secret holding ``secret_data`` at ``resource_version`` (optimistic concurrency), or None and why not.

    Only over a Secret login of this pod's ``lineage``: any other one is a newer login a person put
    there ("superseded"), whatever its expiry. Without a lineage record, only a later expiry is written."""
    new = parse_oauth_login(credentials)
    if new is None or credentials is None:
        return None, "invalid"
    current = secret_data.get(credentials_key)
    if current == credentials:
        return None, "unchanged"
    if lineage is not None and current is not None and not lineage.holds(current):
        return None, "superseded"
    if lineage is None and not is_newer_login(credentials, current):
        return None, "stale"
    data = {credentials_key: base64.b64encode(credentials).decode()}
    if claude_json_key in secret_data and _json_object(claude_json) and claude_json != secret_data[claude_json_key]:
        assert claude_json is not None
        data[claude_json_key] = base64.b64encode(claude_json).decode()
    patch = {
        "metadata": {
            "resourceVersion": resource_version,
            "annotations": {EXPIRES_AT_ANNOTATION: to_rfc3339(new.expires_at), WRITTEN_BY_ANNOTATION: writer},
        },
        "data": data,
    }
    return patch, "written"
