"""Pure: is the login Secret usable? A reason (CamelCase) and a message that says how to fix it.

Never echoes a value: only key names, and the kind of a problem. A pod is started only on a login
that can work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from .api.spec import Credentials
from .contract import PROVIDER_LABEL
from .login_facts import LoginFacts, LoginSecret, derive_login_facts
from .wire import json_object

API_KEY_PREFIX = "sk-ant-api"
_HOW = (
    "Create it from a machine where Claude Code is logged in: `kubectl create secret generic {secret} "
    "-n {ns} --from-file={creds}=$HOME/.claude/.credentials.json` (after `claude auth login`), or "
    "`--from-literal={token}=<output of claude setup-token>`."
)


@dataclass(frozen=True)
class CredentialsCheck:
    valid: bool
    reason: str
    message: str
    #: What the Secret says of its login (kind, expiry, writer); None when there is no Secret.
    login: LoginFacts | None = None


def _bad(reason: str, message: str) -> CredentialsCheck:
    return CredentialsCheck(valid=False, reason=reason, message=message)


def label_command(namespace: str, secret: str, resource: str, *, overwrite: bool = False) -> str:
    """The command that lets `resource` use `secret` (`overwrite`: the Secret names another resource)."""
    flag = " --overwrite" if overwrite else ""
    return f"kubectl label secret {secret} -n {namespace} {PROVIDER_LABEL}={resource}{flag}"


def derive_credentials_check(
    creds: Credentials,
    namespace: str,
    secret_data: Mapping[str, bytes] | None,
    annotations: Mapping[str, str] | None = None,
    *,
    resource: str | None = None,
) -> CredentialsCheck:
    """`resource`: the resource's name, for the command that labels a Secret still to be made."""
    check = _check(creds, namespace, secret_data)
    if secret_data is None:
        if resource is not None:
            label = label_command(namespace, creds.secret_name, resource)
            return replace(check, message=f"{check.message} Then label it for this resource: `{label}`.")
        return check
    return replace(check, login=derive_login_facts(creds, LoginSecret(secret_data, annotations or {})))


def _check(creds: Credentials, namespace: str, secret_data: Mapping[str, bytes] | None) -> CredentialsCheck:
    secret = f"Secret {namespace}/{creds.secret_name}"
    how = _HOW.format(secret=creds.secret_name, ns=namespace, creds=creds.credentials_key, token=creds.oauth_token_key)
    if secret_data is None:
        return _bad("SecretNotFound", f"{secret} does not exist. {how}")
    if not any(secret_data.values()):
        return _bad("SecretEmpty", f"{secret} holds no data. {how}")
    credentials = secret_data.get(creds.credentials_key)
    token = secret_data.get(creds.oauth_token_key)
    state = secret_data.get(creds.claude_json_key)
    if not credentials and not token:
        present = ", ".join(sorted(secret_data)) or "none"
        return _bad(
            "MissingKeys",
            f"{secret} has neither key {creds.credentials_key!r} nor {creds.oauth_token_key!r} (its keys: {present}). "
            f"Add one, or set spec.credentials.credentialsKey / oauthTokenKey to the key that holds the login.",
        )
    if credentials:
        problem = _check_credentials_file(credentials, creds.credentials_key, secret)
        if problem is not None:
            return problem
    if token is not None:
        text = token.decode(errors="replace").strip()
        if text.startswith(API_KEY_PREFIX):
            return _api_key(secret, creds.oauth_token_key)
        if not credentials and not text:
            return _bad("MissingKeys", f"Key {creds.oauth_token_key!r} of {secret} is empty. {how}")
        unreadable = _token_problem(token)
        if text and unreadable is not None:
            return _bad(
                "MalformedCredentials",
                f"Key {creds.oauth_token_key!r} of {secret} is not a token as `claude setup-token` prints it: "
                f"{unreadable}. Store it again with `--from-literal={creds.oauth_token_key}=<the token>` (or "
                "`claude-code-operator login --token-stdin`), not from a file saved by an editor or PowerShell.",
            )
    if state:
        parsed_state = json_object(state)
        if parsed_state is None:
            return _bad(
                "MalformedCredentials",
                f"Key {creds.claude_json_key!r} of {secret} is not a JSON object. Copy ~/.claude.json unchanged, "
                "or remove the key (it is optional).",
            )
        if parsed_state.get("primaryApiKey"):
            return _api_key(secret, creds.claude_json_key)
    return CredentialsCheck(valid=True, reason="Valid", message=f"{secret} holds a Claude Code login.")


def _token_problem(raw: bytes) -> str | None:
    """Why the runtime could not use these bytes as a setup-token (it reads them as UTF-8), or None."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 text (it starts with a UTF-16 byte-order mark)"
    if raw.startswith(b"\xef\xbb\xbf"):
        return "it starts with a UTF-8 byte-order mark"
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return "it holds bytes that are not ASCII text"
    if not text.isprintable() or any(c.isspace() for c in text):
        return "it holds more than one word, or control characters"
    return None


def _check_credentials_file(raw: bytes, key: str, secret: str) -> CredentialsCheck | None:
    parsed = json_object(raw)
    if parsed is None:
        return _bad(
            "MalformedCredentials",
            f"Key {key!r} of {secret} is not a JSON object. Copy the file ~/.claude/.credentials.json "
            "unchanged (`--from-file`, not `--from-literal`).",
        )
    oauth = parsed.get("claudeAiOauth")
    access = oauth.get("accessToken") if isinstance(oauth, dict) else None
    if not isinstance(access, str) or not access:
        return _bad(
            "NotAClaudeLogin",
            f"Key {key!r} of {secret} has no claudeAiOauth.accessToken: it is not a Claude Code login. "
            "Run `claude auth login` and copy ~/.claude/.credentials.json.",
        )
    if access.startswith(API_KEY_PREFIX):
        return _api_key(secret, key)
    return None


def _api_key(secret: str, key: str) -> CredentialsCheck:
    return _bad(
        "ApiKeyNotAllowed",
        f"Key {key!r} of {secret} holds an Anthropic API key; this endpoint serves a Claude subscription login "
        "only. Store the output of `claude setup-token` or ~/.claude/.credentials.json instead.",
    )
