"""Pure: is a login found on this machine one a pod can use? The Secret data to write, its expiry,
its owner, and what to tell the user; or a refusal (`LoginRefused`) that says what to run instead.

Only what the pod needs travels: `claudeAiOauth` of the credentials file (not the MCP servers' tokens
the file may also hold) and the account fields of `.claude.json` (not its project history, MCP server
settings or anything else a laptop keeps there; the whole file can also exceed a Secret's 1 MiB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..contract import (
    CLAUDE_JSON_FILE,
    CREDENTIALS_FILE,
    EXPIRES_AT_ANNOTATION,
    OAUTH_TOKEN_FILE,
    PROVIDER_LABEL,
    WRITTEN_BY_ANNOTATION,
)
from ..credentials import API_KEY_PREFIX
from ..wire import json_object, to_rfc3339
from .errors import LoginRefused
from .sources import HOW_TO_LOG_IN, LocalLogin, LoginKind

INFERENCE_SCOPE = "user:inference"
#: `claude setup-token` tokens last one year (the CLI asks for expires_in 31536000 s).
SETUP_TOKEN_LIFETIME = timedelta(days=365)
OAUTH_TOKEN_PREFIX = "sk-ant-oat"
REFRESH_TOKEN_PREFIX = "sk-ant-ort"
#: Account state the CLI reads at start; everything else in `.claude.json` stays on this machine.
STATE_FIELDS = ("oauthAccount", "userID", "hasCompletedOnboarding")
#: expiresAt is in milliseconds; below this it is seconds (or garbage): 10**11 ms is March 1973.
_MIN_EXPIRES_MS = 10**11
API_KEY_REFUSAL = (
    "{where} holds an Anthropic API key (sk-ant-api...). This operator serves a Claude subscription login "
    "only; for an API key use LiteLLM's standard `anthropic/` provider (for example "
    "`model: anthropic/claude-sonnet-4-5`). " + HOW_TO_LOG_IN
)
REFRESH_WARNING = (
    "This copies a refreshing login: its refresh token is single-use, so once the pod refreshes it (the "
    "access token lasts about 8 hours) Claude Code on this machine is signed out (run `claude auth login` here "
    "again). For pods prefer `claude setup-token` (one year, never refreshed) with --token-stdin."
)


class OAuthShape(BaseModel):
    """What the pod's CLI needs of `claudeAiOauth`; other fields (subscriptionType, ...) travel as they are."""

    model_config = ConfigDict(extra="allow", strict=True)

    access_token: str = Field(alias="accessToken", min_length=1)
    refresh_token: str = Field(alias="refreshToken", min_length=1)
    expires_at: int = Field(alias="expiresAt", gt=_MIN_EXPIRES_MS, description="milliseconds since the epoch")
    scopes: list[str]


@dataclass(frozen=True)
class Login:
    """A login the pod can use: the Secret's data (key -> value) and what is known about it."""

    kind: LoginKind
    source: str
    data: Mapping[str, bytes] = field(repr=False)
    #: The access token's expiry (oauth: the pod refreshes it), or the setup-token's when known.
    expires_at: datetime | None
    owner: str | None = None
    notes: tuple[str, ...] = ()


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def derive_login(found: LocalLogin, now: datetime, token_expires_at: datetime | None = None) -> Login:
    """Validate what was found; `token_expires_at` is a setup-token's expiry when the user knows it."""
    if found.kind == "setup-token":
        return _setup_token(found, now, token_expires_at)
    return _oauth(found, now)


def _setup_token(found: LocalLogin, now: datetime, expires_at: datetime | None) -> Login:
    token = found.secret.decode(errors="replace").strip()
    if token.startswith(API_KEY_PREFIX):
        raise LoginRefused(API_KEY_REFUSAL.format(where=_sentence(found.source)))
    if not token:
        raise LoginRefused(f"No token in {found.source}. {HOW_TO_LOG_IN}")
    if any(c.isspace() for c in token):
        raise LoginRefused(
            f"{_sentence(found.source)} holds more than one word: expected one token, as `claude setup-token` "
            "prints it."
        )
    if token.startswith(REFRESH_TOKEN_PREFIX):
        raise LoginRefused(
            f"{_sentence(found.source)} holds a refresh token (sk-ant-ort...), not a `claude setup-token` token. "
            "For a `claude auth login` login, leave the token out and let this command read the credentials file."
        )
    if not token.startswith(OAUTH_TOKEN_PREFIX):
        raise LoginRefused(
            f"{_sentence(found.source)} does not hold a Claude Code OAuth token (they start with "
            f"{OAUTH_TOKEN_PREFIX}01-). {HOW_TO_LOG_IN}"
        )
    if expires_at is not None and expires_at <= now:
        raise LoginRefused(
            f"The setup-token expired at {to_rfc3339(expires_at)}. Run `claude setup-token` for a new one."
        )
    return Login("setup-token", found.source, {OAUTH_TOKEN_FILE: token.encode()}, expires_at)


def _oauth(found: LocalLogin, now: datetime) -> Login:
    source = found.source
    parsed = json_object(found.secret)
    if parsed is None:
        raise LoginRefused(f"{source} is not a JSON object, so not a Claude Code login. {HOW_TO_LOG_IN}")
    oauth = parsed.get("claudeAiOauth")
    if not isinstance(oauth, dict):
        raise LoginRefused(f"{source} has no claudeAiOauth login. {HOW_TO_LOG_IN}")
    access = oauth.get("accessToken")
    if isinstance(access, str) and access.startswith(API_KEY_PREFIX):
        raise LoginRefused(API_KEY_REFUSAL.format(where=source))
    state = _state(found)
    if state is not None and state.get("primaryApiKey"):
        raise LoginRefused(API_KEY_REFUSAL.format(where=found.state_source))
    try:
        shape = OAuthShape.model_validate(oauth)
    except ValidationError as error:
        # Field names only: pydantic's own message would quote the values.
        fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        raise LoginRefused(
            f"The claudeAiOauth login in {source} lacks a valid {', '.join(fields)}. {HOW_TO_LOG_IN}"
        ) from None
    if INFERENCE_SCOPE not in shape.scopes:
        raise LoginRefused(
            f"The login in {source} lacks the {INFERENCE_SCOPE} scope (it has: {', '.join(shape.scopes) or 'none'}), "
            f"so it cannot make requests. {HOW_TO_LOG_IN}"
        )
    expires_at = datetime.fromtimestamp(shape.expires_at / 1000, UTC)
    notes = [REFRESH_WARNING]
    if expires_at <= now:
        notes.insert(
            0,
            f"The access token expired at {to_rfc3339(expires_at)}; the login is still usable: the pod's Claude "
            "Code renews it with the refresh token on its first request.",
        )
    data = {CREDENTIALS_FILE: json.dumps({"claudeAiOauth": oauth}, indent=2).encode()}
    owner = None
    if state is not None:
        kept = {key: state[key] for key in STATE_FIELDS if key in state}
        data[CLAUDE_JSON_FILE] = json.dumps(kept, indent=2).encode()
        account = kept.get("oauthAccount")
        email = account.get("emailAddress") if isinstance(account, dict) else None
        owner = email if isinstance(email, str) and email else None
    elif found.state_source is not None:
        notes.append(f"{found.state_source} is not a JSON object; the login goes without account state.")
    return Login("oauth", source, data, expires_at, owner, tuple(notes))


def _state(found: LocalLogin) -> dict[str, object] | None:
    return None if found.state is None else json_object(found.state)


@dataclass(frozen=True)
class ExistingSecret:
    """The login Secret as it is in the cluster (read before writing)."""

    data: Mapping[str, bytes] = field(repr=False)
    annotations: Mapping[str, str]
    resource_version: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def derive_expiry(login: Login, existing: ExistingSecret | None, now: datetime) -> tuple[datetime, str | None]:
    """(expiry, a note when it is assumed). A setup-token's: as given; else as recorded when the Secret
    already holds this token (so a re-run changes nothing); else one year from now, said in the note."""
    if login.expires_at is not None:
        return login.expires_at, None
    if existing is not None and existing.data.get(OAUTH_TOKEN_FILE) == login.data[OAUTH_TOKEN_FILE]:
        recorded = existing.annotations.get(EXPIRES_AT_ANNOTATION)
        if recorded:
            try:
                when = datetime.fromisoformat(recorded.replace("Z", "+00:00"))
            except ValueError:
                when = None
            if when is not None:
                if when <= now:
                    raise LoginRefused(
                        f"This setup-token expired at {recorded} (as recorded on the Secret). Run "
                        "`claude setup-token` for a new one."
                    )
                return when, None
    assumed = now + SETUP_TOKEN_LIFETIME
    return assumed, (
        f"Assumed the setup-token was made today: it expires about {to_rfc3339(assumed)[:10]}. Pass "
        "--token-expires-at for an older token, so the expiry warning comes in time."
    )


def derive_relabel_refusal(existing: ExistingSecret | None, resource: str) -> str | None:
    """Why the Secret must not become `resource`'s login, or None: it is labelled for another resource
    (the label names the one resource that may use it), whose pod runs that login."""
    holder = existing.labels.get(PROVIDER_LABEL) if existing is not None else None
    if holder is None or holder == resource:
        return None
    return (
        f"The Secret is the login of ClaudeCodeProvider {holder} (labelled {PROVIDER_LABEL}={holder}); writing it "
        f"for {resource} would take that login away from {holder}. Nothing was written. Use another --secret-name, "
        "or pass --force if the Secret is no longer that resource's."
    )


def derive_overwrite_refusal(login: Login, existing: ExistingSecret | None) -> str | None:
    """Why writing `login` would lose a newer one, or None. The pod refreshes a copied login and writes
    it back; this machine's older copy holds a refresh token that is already spent."""
    if login.kind != "oauth" or existing is None or CREDENTIALS_FILE not in existing.data:
        return None
    theirs = json_object(existing.data[CREDENTIALS_FILE]) or {}
    ours = json_object(login.data[CREDENTIALS_FILE]) or {}
    their_oauth, our_oauth = theirs.get("claudeAiOauth"), ours.get("claudeAiOauth")
    if not isinstance(their_oauth, dict) or not isinstance(our_oauth, dict):
        return None
    their_expiry, our_expiry = their_oauth.get("expiresAt"), our_oauth.get("expiresAt")
    if type(their_expiry) is not int or type(our_expiry) is not int or their_expiry <= our_expiry:
        return None
    if their_oauth.get("refreshToken") == our_oauth.get("refreshToken"):
        return None
    when = to_rfc3339(datetime.fromtimestamp(their_expiry / 1000, UTC))
    writer = existing.annotations.get(WRITTEN_BY_ANNOTATION, "someone")
    return (
        f"The Secret already holds a newer login (access token until {when}, written by {writer}); the one "
        f"from {login.source} is older, and its refresh token has most likely been used by the pod already. "
        "Nothing was written. Run `claude auth login` here for a fresh login and try again, or pass --force to "
        "overwrite anyway."
    )
