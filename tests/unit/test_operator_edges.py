"""Edges of the pure logic that a wrong comparison or a dropped rule would move: each expected value is
written out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.test_operator_status import report

from claude_code_operator.api.resource import Provider
from claude_code_operator.api.status import ClaudeCodeProviderStatus
from claude_code_operator.credentials import CredentialsCheck, derive_credentials_check
from claude_code_operator.observations import PodFacts
from claude_code_operator.render.pod import render_pod
from claude_code_operator.status import Facts, derive_status

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LOGIN_FILE = json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-a", "refreshToken": "r"}}).encode()


def provider(**spec: object) -> Provider:
    return Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 1},
            "spec": {"credentials": {"secretName": "alice-login"}, **spec},
        }
    )


def probed(**fields: object) -> ClaudeCodeProviderStatus:
    """The status of a running pod whose runtime answered with these fields."""
    p = provider()
    pod = PodFacts("ready", "alice-claude-code", ip="127.100.0.5")
    s = derive_status(ClaudeCodeProviderStatus(), p, Facts(CredentialsCheck(True, "Valid", "ok"), pod), T0)
    return derive_status(s, p, Facts(probe=report(**fields)), T0)


def condition(s: ClaudeCodeProviderStatus, type_: str) -> tuple[str, str, str]:
    c = next(c for c in s.conditions if c.type == type_)
    return c.status, c.reason, c.message


@pytest.mark.parametrize("method", ["api_key", "api_key_helper"])
def test_an_api_key_in_the_pod_is_reported_as_such(method: str) -> None:
    reason = f"An Anthropic API key ({method}) is configured; this runtime accepts OAuth only."
    s = probed(logged_in=False, method=method, reason=reason)
    status, why, message = condition(s, "Authenticated")
    assert (status, why) == ("False", "ApiKeyConfigured")
    assert message.startswith(reason + " Log in again from a laptop with `claude-code-operator login")
    assert condition(s, "Ready")[:2] == ("False", "ApiKeyConfigured")
    assert s.phase == "Unauthenticated"


def test_a_usage_limit_holds_ready_false_with_its_reset_time() -> None:
    s = probed(rate_limited_until=T0 + timedelta(hours=1), last_result="rate_limited")
    assert condition(s, "Ready") == (
        "False",
        "UsageLimitReached",
        "The subscription's usage limit is reached; it resets at 2026-01-02T04:04:05Z.",
    )
    assert condition(s, "Authenticated")[:2] == ("True", "LoggedIn")


def test_a_rejected_login_is_login_rejected_not_just_logged_out() -> None:
    s = probed(logged_in=False, last_result="unauthorized", reason="Anthropic rejected the login.")
    assert condition(s, "Authenticated")[:2] == ("False", "LoginRejected")


def test_a_credentials_file_beside_an_empty_token_key_is_a_valid_login() -> None:
    check = derive_credentials_check(
        provider().spec.credentials, "team", {".credentials.json": LOGIN_FILE, "oauth-token": b""}
    )
    assert (check.valid, check.reason) == (True, "Valid")
    assert check.login is not None
    assert check.login.kind == "oauth"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {".credentials.json": b"[]"},
            "Key '.credentials.json' of Secret team/alice-login is not a JSON object. Copy the file "
            "~/.claude/.credentials.json unchanged (`--from-file`, not `--from-literal`).",
        ),
        (
            {".credentials.json": LOGIN_FILE, ".claude.json": b"[]"},
            "Key '.claude.json' of Secret team/alice-login is not a JSON object. Copy ~/.claude.json unchanged, "
            "or remove the key (it is optional).",
        ),
    ],
)
def test_json_that_is_not_an_object_is_malformed(data: dict[str, bytes], message: str) -> None:
    check = derive_credentials_check(provider().spec.credentials, "team", data)
    assert (check.valid, check.reason, check.message) == (False, "MalformedCredentials", message)


def test_the_pod_runs_as_the_images_user_reads_its_login_owner_only_and_gets_no_service_links() -> None:
    spec = render_pod(provider(), {"oauth-token": b"sk-ant-oat01-t"}, b"fingerprint-key")["spec"]
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    login = next(v for v in spec["volumes"] if v["name"] == "login")
    assert login["secret"]["defaultMode"] == 256  # 0o400: its owner reads it, nobody else


EXPIRES = "2026-02-01T03:04:05Z"
END = datetime(2026, 2, 1, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (END - timedelta(days=7, seconds=1), ("False", "NotExpiringSoon")),
        (END - timedelta(days=7), ("True", "LoginExpiresSoon")),
        (END - timedelta(seconds=1), ("True", "LoginExpiresSoon")),
        (END, ("True", "LoginExpired")),
    ],
)
def test_a_setup_tokens_expiry_warning_starts_exactly_seven_days_before(
    now: datetime, expected: tuple[str, str]
) -> None:
    p = provider()
    check = derive_credentials_check(
        p.spec.credentials, "team", {"oauth-token": b"sk-ant-oat01-t"}, {"claudecode.dev/login-expires-at": EXPIRES}
    )
    s = derive_status(ClaudeCodeProviderStatus(), p, Facts(credentials=check), now)
    assert condition(s, "LoginExpiring")[:2] == expected
