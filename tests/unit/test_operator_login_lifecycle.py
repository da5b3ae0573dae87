"""The login's lifecycle as the operator judges it: which Secret change replaces the pod, and when
LoginExpiring warns (with the command that fixes it)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from claude_code_operator.api.resource import Provider
from claude_code_operator.api.status import ClaudeCodeProviderStatus, find_condition
from claude_code_operator.credentials import derive_credentials_check
from claude_code_operator.login_facts import LoginSecret, derive_login_facts, derive_pod_has_login
from claude_code_operator.observations import AuthReport, PodFacts, ProbeFacts
from claude_code_operator.render.pod import render_pod
from claude_code_operator.status import Facts, derive_status, derive_transitions

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
POD_UID = "pod-uid-1"
KEY = b"alice's fingerprint key"


def provider(**credentials: Any) -> Provider:
    return Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 1},
            "spec": {"credentials": {"secretName": "alice-login", **credentials}},
        }
    )


def oauth(expires: datetime, access: str = "sk-ant-oat01-a", account: str = "acct-1") -> dict[str, bytes]:
    creds = {
        "claudeAiOauth": {
            "accessToken": access,
            "refreshToken": "r-" + access,
            "expiresAt": int(expires.timestamp() * 1000),
        }
    }
    state = {"oauthAccount": {"accountUuid": account, "emailAddress": "a@example.com"}}
    return {".credentials.json": json.dumps(creds).encode(), ".claude.json": json.dumps(state).encode()}


def live_pod(data: dict[str, bytes], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    p = provider()
    pod = render_pod(p, data, KEY, derive_login_facts(p.spec.credentials, LoginSecret(data, annotations or {})))
    pod["metadata"]["uid"] = POD_UID
    return pod


def has_login(pod: dict[str, Any], data: dict[str, bytes], annotations: dict[str, str]) -> bool:
    facts = derive_login_facts(provider().spec.credentials, LoginSecret(data, annotations))
    return derive_pod_has_login(pod, facts, KEY)


def test_the_pods_own_write_back_does_not_replace_it() -> None:
    pod = live_pod(oauth(T0))
    refreshed = oauth(T0 + timedelta(hours=8), access="sk-ant-oat01-b")
    assert has_login(pod, oauth(T0), {}), "an unchanged login"
    assert has_login(pod, refreshed, {"claudecode.dev/login-written-by": f"pod/{POD_UID}"})


@pytest.mark.parametrize(
    ("data", "writer"),
    [
        (oauth(T0 + timedelta(hours=8), access="sk-ant-oat01-b"), "login-command"),  # someone else wrote it
        (oauth(T0 + timedelta(hours=8), access="sk-ant-oat01-b"), None),  # a hand-made Secret, kubectl apply
        (oauth(T0 + timedelta(hours=8), access="sk-ant-oat01-b"), "pod/an-old-pod"),  # a pod that is gone
        (oauth(T0 + timedelta(hours=8), account="acct-2"), f"pod/{POD_UID}"),  # another account
        (oauth(T0 - timedelta(hours=1), access="sk-ant-oat01-b"), f"pod/{POD_UID}"),  # older than it started with
        ({"oauth-token": b"sk-ant-oat01-token"}, f"pod/{POD_UID}"),  # another kind of login
    ],
)
def test_any_other_login_change_replaces_the_pod(data: dict[str, bytes], writer: str | None) -> None:
    annotations = {"claudecode.dev/login-written-by": writer} if writer else {}
    assert not has_login(live_pod(oauth(T0)), data, annotations)


LOGGED_IN = AuthReport(
    logged_in=True, method="claude.ai", subscription_type="max", expires_at=None, rate_limited_until=None,
    last_result="ok", reason="Logged in.",
)  # fmt: skip


def report(**overrides: Any) -> ProbeFacts:
    return ProbeFacts(replace(LOGGED_IN, **overrides), pod_ip="127.100.0.5")


def status_for(
    p: Provider, data: dict[str, bytes], annotations: dict[str, str], now: datetime, **probe: Any
) -> ClaudeCodeProviderStatus:
    check = derive_credentials_check(p.spec.credentials, "team", data, annotations)
    ready = PodFacts("ready", "alice-claude-code", ip="127.100.0.5")
    s = derive_status(ClaudeCodeProviderStatus(), p, Facts(credentials=check, pod=ready), now)
    return derive_status(s, p, Facts(probe=report(**probe)), now)


def expiring(s: ClaudeCodeProviderStatus) -> tuple[str, str, str]:
    c = find_condition(s.conditions, "LoginExpiring")
    assert c is not None
    return c.status, c.reason, c.message


TOKEN = {"oauth-token": b"sk-ant-oat01-setup-token-value"}


def test_a_setup_token_warns_before_it_expires_and_the_fix_clears_it() -> None:
    p = provider()
    expires = T0 + timedelta(days=30)
    annotation = {"claudecode.dev/login-expires-at": "2026-02-01T03:04:05Z"}
    s = status_for(p, TOKEN, annotation, T0)
    assert expiring(s)[:2] == ("False", "NotExpiringSoon")
    assert s.auth is not None
    assert (s.auth.login_kind, s.auth.login_expires_at, s.auth.write_back) == ("setup-token", expires, False)
    # Seven days before (the default), the next probe raises it; one Warning Event says how to renew.
    week_before = T0 + timedelta(days=23, seconds=1)
    warned = derive_status(s, p, Facts(probe=report()), week_before)
    status, reason, message = expiring(warned)
    assert (status, reason) == ("True", "LoginExpiresSoon")
    assert "2026-02-01T03:04:05Z" in message
    assert "claude-code-operator login --namespace team --name alice --token-stdin" in message
    events = derive_transitions(s, warned, None)
    assert [(e.type, e.reason) for e in events] == [("Warning", "LoginExpiresSoon")]
    assert derive_status(warned, p, Facts(probe=report()), week_before + timedelta(minutes=1)) == warned, "no churn"
    expired = derive_status(warned, p, Facts(probe=report()), expires)
    assert expiring(expired)[:2] == ("True", "LoginExpired")
    # The fix: a new token with a later expiry.
    renewed = derive_credentials_check(
        p.spec.credentials,
        "team",
        {"oauth-token": b"sk-ant-oat01-new"},
        {"claudecode.dev/login-expires-at": "2027-01-01T00:00:00Z"},
    )
    fixed = derive_status(expired, p, Facts(credentials=renewed), expires)
    assert expiring(fixed)[:2] == ("False", "NotExpiringSoon")
    assert [(e.type, e.reason) for e in derive_transitions(expired, fixed, None)] == [("Normal", "NotExpiringSoon")]


def test_the_warning_window_is_configurable() -> None:
    p = provider(expiryWarningHours=24)
    annotation = {"claudecode.dev/login-expires-at": "2026-01-04T03:04:05Z"}  # two days after T0
    assert expiring(status_for(p, TOKEN, annotation, T0))[1] == "NotExpiringSoon"
    assert expiring(status_for(p, TOKEN, annotation, T0 + timedelta(days=1, seconds=1)))[1] == "LoginExpiresSoon"


def test_a_refreshed_oauth_login_never_warns_for_its_8_hour_access_token() -> None:
    s = status_for(provider(), oauth(T0 + timedelta(minutes=5)), {}, T0, write_back_result="written")
    assert expiring(s)[:2] == ("False", "RefreshedInPod")
    assert s.auth is not None
    assert (s.auth.login_kind, s.auth.login_expires_at, s.auth.write_back) == ("oauth", None, True)


def test_without_write_back_an_oauth_login_ends_with_the_secrets_access_token() -> None:
    p = provider(writeBack=False)
    s = status_for(p, oauth(T0 + timedelta(hours=6)), {}, T0)
    status, reason, message = expiring(s)
    assert (status, reason) == ("True", "LoginExpiresSoon")
    assert "kubectl exec -it alice-claude-code -n team -c claude -- claude auth login" in message


def test_a_failing_write_back_warns_until_a_write_succeeds() -> None:
    p = provider()
    s = status_for(p, oauth(T0 + timedelta(hours=8)), {}, T0, write_back_result="error")
    assert expiring(s)[:2] == ("True", "WriteBackFailing")
    again = derive_status(
        s, p, Facts(credentials=derive_credentials_check(p.spec.credentials, "team", oauth(T0), {})), T0
    )
    assert expiring(again)[1] == "WriteBackFailing", "a reconcile without a probe keeps it"
    fixed = derive_status(again, p, Facts(probe=report(write_back_result="written")), T0)
    assert expiring(fixed)[:2] == ("False", "RefreshedInPod")


def test_a_write_back_that_met_a_newer_login_says_so_until_a_write_succeeds() -> None:
    p = provider()
    s = status_for(p, oauth(T0 + timedelta(hours=8)), {}, T0, write_back_result="superseded")
    status, reason, message = expiring(s)
    assert (status, reason) == ("True", "WriteBackFailing")
    assert message.startswith("A newer login arrived in the login Secret: the pod stopped writing its own login")
    again = derive_status(
        s, p, Facts(credentials=derive_credentials_check(p.spec.credentials, "team", oauth(T0), {})), T0
    )
    assert expiring(again) == expiring(s), "a reconcile without a probe keeps the message too"
    fixed = derive_status(again, p, Facts(probe=report(write_back_result="written")), T0)
    assert expiring(fixed)[:2] == ("False", "RefreshedInPod")


def test_a_hand_made_setup_token_secret_has_an_unknown_expiry() -> None:
    s = status_for(provider(), TOKEN, {}, T0)
    status, reason, message = expiring(s)
    assert (status, reason) == ("Unknown", "ExpiryUnknown")
    assert "claudecode.dev/login-expires-at" in message
    assert "ExpiryUnknown" not in [e.reason for e in derive_transitions(ClaudeCodeProviderStatus(), s, None)]


def test_no_token_in_status_or_events() -> None:
    p = provider()
    data = oauth(T0 + timedelta(hours=8), access="sk-ant-oat01-SECRET")
    s = status_for(p, data, {}, T0, logged_in=False, last_result="unauthorized")
    text = s.model_dump_json() + json.dumps(
        [e.message for e in derive_transitions(ClaudeCodeProviderStatus(), s, None)]
    )
    assert "SECRET" not in text
    assert "acct-1" not in text
    auth = find_condition(s.conditions, "Authenticated")
    assert auth is not None
    assert "claude-code-operator login --namespace team --name alice" in auth.message


def test_the_fix_names_the_resources_own_secret_when_it_is_not_the_default() -> None:
    p = Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 1},
            "spec": {"credentials": {"secretName": "alices-claude"}},
        }
    )
    s = status_for(p, TOKEN, {"claudecode.dev/login-expires-at": "2026-01-03T00:00:00Z"}, T0)
    assert "claude-code-operator login --namespace team --name alice --secret-name alices-claude" in expiring(s)[2]
