"""The operator <-> runtime contract, held together across the two packages: what the operator renders
is what the runtime's own settings readers parse, and what the runtime's /auth/status says is what the
operator's status makes of it."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from claude_code_operator import contract
from claude_code_operator.api.resource import Provider
from claude_code_operator.api.status import ClaudeCodeProviderStatus
from claude_code_operator.credentials import derive_credentials_check
from claude_code_operator.login_facts import LoginSecret, derive_login_facts, derive_pod_has_login
from claude_code_operator.observations import PodFacts, ProbeFacts, RequestCount
from claude_code_operator.probe import to_auth_report
from claude_code_operator.render.pod import render_pod
from claude_code_operator.status import Facts, derive_status
from claude_code_provider import usage as runtime_usage
from claude_code_provider.auth import login as runtime_login
from claude_code_provider.auth import oauth_login
from claude_code_provider.auth.status import Outcome, OutcomeKind, Requests, TokenInfo, derive_auth_status
from claude_code_provider.engine.admission import AdmissionSettings
from claude_code_provider.engine.settings import EngineSettings
from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.runtime.settings import RuntimeSettings
from claude_code_provider.runtime.writeback import WriteBackSettings, WriteOutcome

T0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
LOGIN = {
    ".credentials.json": json.dumps(
        {"claudeAiOauth": {"accessToken": "sk-ant-oat01-a", "refreshToken": "sk-ant-ort01-r", "expiresAt": 1}}
    ).encode(),
    ".claude.json": b"{}",
}
KEY = b"alice's fingerprint key"


def provider(**spec: Any) -> Provider:
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {"credentials": {"secretName": "alice-login"}, **spec},
    }
    return Provider.from_body(body)


def container_env(pod: dict[str, Any], name: str) -> dict[str, str]:
    """The container's environment as the kubelet would resolve it (pod fields filled in)."""
    fields = {"metadata.namespace": "team", "metadata.uid": "pod-uid-7"}
    c = next(c for c in pod["spec"]["containers"] if c["name"] == name)
    out = {}
    for e in c["env"]:
        ref = e.get("valueFrom", {})
        out[e["name"]] = (
            e["value"] if "value" in e else fields.get(ref.get("fieldRef", {}).get("fieldPath"), "<secret>")
        )
    return out


def test_the_runtime_reads_the_environment_the_operator_renders() -> None:
    p = provider(admission={"maxInFlight": 2, "maxQueued": 3, "queueTimeoutSeconds": 9})
    pod = render_pod(p, LOGIN, KEY)
    env = container_env(pod, "claude")
    runtime = RuntimeSettings.from_env(env)
    assert runtime.login_dir == Path("/var/run/claude-login")
    assert EngineSettings.from_env(env).config_dir == Path("/var/lib/claude")
    admission = AdmissionSettings.from_env(env)
    assert (admission.max_in_flight, admission.max_queued, admission.queue_timeout) == (2, 3, 9.0)
    write_back = WriteBackSettings.from_env(env)
    assert write_back is not None
    assert (write_back.secret_name, write_back.namespace, write_back.pod_uid) == ("alice-login", "team", "pod-uid-7")
    assert (write_back.credentials_key, write_back.claude_json_key) == (".credentials.json", ".claude.json")
    # The ports the operator probes and the sidecar dials are the runtime's own defaults.
    claude = next(c for c in pod["spec"]["containers"] if c["name"] == "claude")
    assert claude["ports"][0]["containerPort"] == runtime.port == 8080
    assert container_env(pod, "litellm")["CLAUDE_RUNTIME_URL"] == f"http://127.0.0.1:{runtime.api_port}"
    assert env["CLAUDE_RUNTIME_TOKEN"] == "<secret>"


def test_login_files_and_annotations_are_named_alike_on_both_sides() -> None:
    volume = next(v for v in render_pod(provider(), LOGIN, KEY)["spec"]["volumes"] if v["name"] == "login")
    paths = sorted(item["path"] for item in volume["secret"]["items"])
    assert paths == sorted([runtime_login.CREDENTIALS_FILE, runtime_login.STATE_FILE])
    assert contract.OAUTH_TOKEN_FILE == runtime_login.OAUTH_TOKEN_FILE == "oauth-token"
    assert contract.EXPIRES_AT_ANNOTATION == oauth_login.EXPIRES_AT_ANNOTATION == "claudecode.dev/login-expires-at"
    assert contract.WRITTEN_BY_ANNOTATION == oauth_login.WRITTEN_BY_ANNOTATION == "claudecode.dev/login-written-by"


def test_a_login_the_pod_wrote_back_itself_keeps_the_pod() -> None:
    """The runtime signs its write-back `pod/<uid>`; the operator then does not replace that pod."""
    p = provider()
    creds = p.spec.credentials
    started = derive_login_facts(creds, LoginSecret(LOGIN))
    pod = render_pod(p, LOGIN, KEY, started)
    pod["metadata"]["uid"] = "pod-uid-7"
    writer = WriteBackSettings(secret_name="alice-login", namespace="team", pod_uid="pod-uid-7").writer
    refreshed = json.dumps(
        {"claudeAiOauth": {"accessToken": "sk-ant-oat01-b", "refreshToken": "sk-ant-ort01-s", "expiresAt": 2}}
    ).encode()
    written = LoginSecret({**LOGIN, ".credentials.json": refreshed}, {contract.WRITTEN_BY_ANNOTATION: writer})
    assert derive_pod_has_login(pod, derive_login_facts(creds, written), KEY) is True


def test_outcome_words_are_the_runtimes() -> None:
    ours = {contract.OUTCOME_OK, contract.OUTCOME_UNAUTHORIZED, contract.OUTCOME_USAGE_LIMIT}
    assert ours | {contract.OUTCOME_UPSTREAM_ERROR} == set(typing.get_args(OutcomeKind))
    assert set(typing.get_args(WriteOutcome)) >= contract.WRITE_BACK_FAILED
    assert {"error", "gave_up"} == contract.WRITE_BACK_FAILED
    assert contract.WRITE_BACK_SUPERSEDED == "superseded"
    assert contract.WRITE_BACK_SUPERSEDED in typing.get_args(WriteOutcome)


def test_error_kinds_and_window_names_are_the_runtimes() -> None:
    kinds = {
        contract.KIND_LOGIN_REVOKED: ErrorKind.LOGIN_REVOKED,
        contract.KIND_ORGANIZATION_DISABLED: ErrorKind.ORGANIZATION_DISABLED,
        contract.KIND_OAUTH_NOT_ALLOWED: ErrorKind.OAUTH_NOT_ALLOWED,
        contract.KIND_EXTRA_USAGE_REQUIRED: ErrorKind.EXTRA_USAGE_REQUIRED,
    }
    assert all(word == kind.value for word, kind in kinds.items())
    assert dict(runtime_usage.WINDOW_NAMES) == contract.WINDOW_NAMES
    for window in ("five_hour", "seven_day_opus", "some_new_window"):
        assert contract.to_window_name(window) == runtime_usage.to_window_name(window)


def status_after(
    outcome: Outcome, now: datetime, usage: list[runtime_usage.UsageWindow] | None = None
) -> ClaudeCodeProviderStatus:
    """The operator's status once it probed a runtime whose last request ended with `outcome`."""
    cli = {"loggedIn": True, "authMethod": "claude.ai", "subscriptionType": "max"}
    runtime = derive_auth_status(
        cli=cli, login_problem=None, token=TokenInfo(), outcome=outcome, cli_version="2.1.0", now=now, usage=usage
    )
    report = to_auth_report(json.loads(runtime.model_dump_json()))
    assert report is not None
    p = provider()
    check = derive_credentials_check(p.spec.credentials, "team", LOGIN)
    pod = PodFacts("ready", "alice-claude-code", ip="127.100.0.5")
    started = derive_status(ClaudeCodeProviderStatus(), p, Facts(credentials=check, pod=pod), now)
    return derive_status(started, p, Facts(probe=ProbeFacts(report, pod_ip="127.100.0.5")), now)


def conditions(status: ClaudeCodeProviderStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_a_usage_limit_in_effect_is_rate_limited_and_not_ready() -> None:
    reset = T0 + timedelta(hours=2)
    status = status_after(Outcome(result="rate_limited", at=T0, until=reset), T0 + timedelta(minutes=1))
    got = conditions(status)
    assert got["RateLimited"] == ("True", "UsageLimitReached")
    assert got["Authenticated"] == ("True", "LoggedIn")
    assert got["Ready"] == ("False", "UsageLimitReached")
    assert status.phase == "RateLimited"


def test_after_a_usage_limit_resets_the_resource_is_ready_before_the_next_request() -> None:
    """The runtime's last request still says `rate_limited` (a usage limit, not Anthropic throttling)
    but the limit has reset: nothing limits the login now."""
    reset = T0 + timedelta(hours=2)
    status = status_after(Outcome(result="rate_limited", at=T0, until=reset), reset + timedelta(seconds=1))
    got = conditions(status)
    assert got["RateLimited"] == ("False", "WithinLimits")
    assert got["Ready"] == ("True", "Ready")
    assert status.phase == "Ready"


def test_a_usage_limit_without_a_reset_time_holds_nothing() -> None:
    status = status_after(Outcome(result="rate_limited", at=T0), T0)
    assert conditions(status)["RateLimited"] == ("False", "WithinLimits")
    assert conditions(status)["Ready"] == ("True", "Ready")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (ErrorKind.ORGANIZATION_DISABLED, "OrganizationDisabled"),
        (ErrorKind.OAUTH_NOT_ALLOWED, "OAuthNotAllowed"),
        (ErrorKind.LOGIN_REVOKED, "LoginRevoked"),
        (ErrorKind.NOT_LOGGED_IN, "LoginRejected"),
    ],
)
def test_a_refusal_of_the_account_has_its_own_reason_and_never_asks_for_a_login_it_would_not_cure(
    kind: ErrorKind, reason: str
) -> None:
    status = status_after(Outcome.of(ClaudeCodeError(kind, "refused"), T0), T0)
    assert conditions(status)["Authenticated"] == ("False", reason)
    message = next(c.message for c in status.conditions if c.type == "Authenticated")
    cured_by_a_login = kind in (ErrorKind.LOGIN_REVOKED, ErrorKind.NOT_LOGGED_IN)
    assert ("claude-code-operator login --namespace" in message) is cured_by_a_login
    assert status.phase == "Unauthenticated"


def test_the_runtimes_usage_windows_reach_the_status_and_the_limit_names_its_window() -> None:
    reset = T0 + timedelta(hours=2)
    windows = [
        runtime_usage.UsageWindow(window="five_hour", utilization=100.0, resets_at=reset, status="rejected"),
        runtime_usage.UsageWindow(window="seven_day", utilization=41.0, resets_at=T0 + timedelta(days=2)),
    ]
    limit = ClaudeCodeError(ErrorKind.USAGE_LIMIT, "limit", retry_after=7200, window="five_hour")
    status = status_after(Outcome.of(limit, T0), T0, windows)
    assert [(w.window, w.utilization, w.resets_at) for w in status.usage] == [
        ("five_hour", 100.0, reset),
        ("seven_day", 41.0, T0 + timedelta(days=2)),
    ]
    assert conditions(status)["QuotaLow"] == ("True", "UsageAboveThreshold")
    limited = next(c for c in status.conditions if c.type == "RateLimited")
    assert "five-hour usage limit is reached" in limited.message


def test_the_runtimes_request_counts_are_what_the_operators_probe_reads() -> None:
    runtime = derive_auth_status(
        cli={"loggedIn": True, "authMethod": "claude.ai"},
        login_problem=None,
        token=TokenInfo(),
        outcome=None,
        cli_version="2.1.0",
        now=T0,
        requests=Requests(started=7, in_flight=2),
    )
    answer = json.loads(runtime.model_dump_json())
    assert answer[contract.REQUESTS_FIELD] == {contract.REQUESTS_STARTED: 7, contract.REQUESTS_IN_FLIGHT: 2}
    report = to_auth_report(answer)
    assert report is not None
    assert report.requests == RequestCount(started=7, in_flight=2)
    assert contract.WAKE_REQUESTED_ANNOTATION == "claudecode.dev/wake-requested-at"
