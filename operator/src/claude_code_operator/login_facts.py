"""Pure: what the login Secret says of its login (kind, identity, expiry, who wrote it), never a value.

Two decisions rest on it. Write-back: on for `.credentials.json` logins (their refresh tokens rotate,
so the pod must save each refresh), off for setup-token logins (never refreshed); the spec may
override. And whether a changed Secret replaces the pod: not when the pod itself wrote it (same
identity, an expiry no older than the pod started with), since the pod already runs that login.

What "expiry" means differs by kind. A setup-token ends at its expiry (about a year; the Secret's
`claudecode.dev/login-expires-at`, which `claude-code-operator login` sets). An OAuth login's access
token ends every ~8 h but the CLI refreshes it: with write-back on the login has no end to warn about;
with write-back off a new pod can start only until the Secret's access token expires (its refresh
token is spent by the first refresh), so that is its end.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .api.spec import Credentials
from .api.status import LoginKind
from .contract import EXPIRES_AT_ANNOTATION, WRITTEN_BY_ANNOTATION
from .wire import json_object, parse_rfc3339, to_rfc3339

#: On the pod: the login it started with (a digest, an identity hash, the expiry), to judge Secret changes.
#: The two hashes are keyed (HMAC with the resource's own key, `render/keys.py`): whoever may get pods
#: cannot confirm a guessed token with them.
POD_LOGIN_DIGEST = "claudecode.dev/login-digest"
POD_LOGIN_IDENTITY = "claudecode.dev/login-identity"
POD_LOGIN_EXPIRES_AT = EXPIRES_AT_ANNOTATION


@dataclass(frozen=True)
class LoginSecret:
    data: Mapping[str, bytes]
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: Its labels: whether it opted in for the resource (`claims`).
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoginFacts:
    kind: LoginKind
    refreshable: bool
    write_back: bool
    #: The Secret's current access token (OAuth) or the setup-token's expiry (annotation); None if unknown.
    expires_at: datetime | None
    #: When the login itself ends (see the module doc); None when it is renewed by write-back or unknown.
    login_expires_at: datetime | None
    identity: str
    digest: str
    written_by: str | None


def _hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def derive_login_digest(creds: Credentials, data: Mapping[str, bytes]) -> str:
    """sha256 over the spec's keys of the login Secret: any change of the login changes it."""
    parts: list[str | bytes] = []
    for key in (creds.credentials_key, creds.claude_json_key, creds.oauth_token_key):
        value = data.get(key)
        if value is not None:
            parts += [key, str(len(value)), value]
    return _hash(*parts)


def derive_login_facts(creds: Credentials, secret: LoginSecret) -> LoginFacts:
    data = secret.data
    token = (data.get(creds.oauth_token_key) or b"").strip()
    oauth = (json_object(data.get(creds.credentials_key)) or {}).get("claudeAiOauth")
    oauth = oauth if isinstance(oauth, dict) else {}
    annotated = parse_rfc3339(secret.annotations.get(EXPIRES_AT_ANNOTATION))
    if token:  # the runtime prefers a setup-token when both are present
        kind: LoginKind = "setup-token"
        refreshable, expires_at, identity = False, annotated, _hash("setup-token", token)[:16]
    else:
        kind = "oauth"
        refreshable = bool(oauth.get("refreshToken"))
        raw = oauth.get("expiresAt")
        expires_at = (
            datetime.fromtimestamp(raw / 1000, UTC) if isinstance(raw, int) and not isinstance(raw, bool) else None
        )
        account = (json_object(data.get(creds.claude_json_key)) or {}).get("oauthAccount")
        who = account.get("accountUuid") or account.get("emailAddress") if isinstance(account, dict) else None
        identity = _hash("oauth", str(who))[:16] if who else ""
    write_back = creds.write_back if creds.write_back is not None else kind == "oauth"
    renewed = kind == "oauth" and refreshable and write_back
    return LoginFacts(
        kind=kind,
        refreshable=refreshable,
        write_back=write_back,
        expires_at=expires_at,
        login_expires_at=None if renewed else expires_at,
        identity=identity,
        digest=derive_login_digest(creds, data),
        written_by=secret.annotations.get(WRITTEN_BY_ANNOTATION),
    )


def _keyed(key: bytes, what: str, value: str) -> str:
    """An HMAC of a fact for the pod ("" stays "": a fact not known)."""
    return hmac.new(key, f"{what}\0{value}".encode(), hashlib.sha256).hexdigest() if value else ""


def _matches(found: str | None, key: bytes, what: str, value: str) -> bool:
    """The pod's hash of a fact is this one: keyed, or bare as operators before keyed hashes wrote it
    (their pods still run this login: an upgrade replaces them gradually, not all at once)."""
    found = found or ""
    return hmac.compare_digest(found, _keyed(key, what, value)) or (bool(value) and hmac.compare_digest(found, value))


def render_pod_login_annotations(facts: LoginFacts, key: bytes) -> dict[str, str]:
    return {
        POD_LOGIN_DIGEST: _keyed(key, "digest", facts.digest),
        POD_LOGIN_IDENTITY: _keyed(key, "identity", facts.identity),
        POD_LOGIN_EXPIRES_AT: to_rfc3339(facts.expires_at) if facts.expires_at is not None else "",
    }


def derive_pod_has_login(pod: Mapping[str, Any], facts: LoginFacts, key: bytes) -> bool:
    """The live pod runs the Secret's login: the same one it started with, or one it wrote back itself
    (same identity, not older). Any other change (another writer, another account) needs a new pod.
    `key`: the resource's fingerprint key, as the pod was rendered with."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if _matches(annotations.get(POD_LOGIN_DIGEST), key, "digest", facts.digest):
        return True
    started = parse_rfc3339(annotations.get(POD_LOGIN_EXPIRES_AT))
    return (
        facts.written_by == f"pod/{meta.get('uid')}"
        and _matches(annotations.get(POD_LOGIN_IDENTITY), key, "identity", facts.identity)
        and facts.expires_at is not None
        and (started is None or facts.expires_at >= started)
    )
