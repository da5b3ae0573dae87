"""The plan's usage in the resource's status: `status.usage` most used first (the printer column shows the
first), `QuotaLow` True at the threshold with one Warning Event, False again when the window resets, and
Ready untouched by it (a provider with quota left serves)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from claude_code_operator import contract
from claude_code_operator.api.resource import Provider
from claude_code_operator.api.status import ClaudeCodeProviderStatus, find_condition
from claude_code_operator.credentials import CredentialsCheck
from claude_code_operator.login_facts import LoginSecret, derive_login_facts
from claude_code_operator.observations import AuthReport, PodFacts, ProbeFacts, UsageReport
from claude_code_operator.probe import to_auth_report, to_usage
from claude_code_operator.quota import derive_usage
from claude_code_operator.render.pod import render_input_hash
from claude_code_operator.status import Facts, derive_status, derive_transitions

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FIVE_HOUR_RESET = T0 + timedelta(hours=2)
WEEK_RESET = T0 + timedelta(days=3)


def provider(**spec: object) -> Provider:
    return Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 2},
            "spec": {"credentials": {"secretName": "login"}, **spec},
        }
    )


def probe(*usage: UsageReport, last_kind: str | None = None, last_result: str = "ok") -> Facts:
    report = AuthReport(
        logged_in=True,
        method="claude.ai",
        subscription_type="max",
        expires_at=None,
        rate_limited_until=None,
        last_result=last_result,
        reason="Logged in.",
        last_kind=last_kind,
        usage=usage,
    )
    return Facts(probe=ProbeFacts(report, pod_ip="127.100.0.5"))


def ready(p: Provider) -> ClaudeCodeProviderStatus:
    pod = PodFacts("ready", "alice-claude-code", ip="127.100.0.5")
    s = derive_status(
        ClaudeCodeProviderStatus(), p, Facts(credentials=CredentialsCheck(True, "Valid", "ok"), pod=pod), T0
    )
    return derive_status(s, p, probe(), T0)


def quota(s: ClaudeCodeProviderStatus) -> tuple[str, str, str]:
    c = find_condition(s.conditions, "QuotaLow")
    assert c is not None
    return c.status, c.reason, c.message


def test_a_fresh_provider_says_no_window_was_reported_yet() -> None:
    s = ready(provider())
    assert s.usage == []
    assert quota(s)[:2] == ("False", "QuotaOk")
    assert "No usage window reported yet" in quota(s)[2]


def test_usage_is_kept_most_used_first_and_below_the_threshold_is_quiet() -> None:
    p = provider()
    before = ready(p)
    s = derive_status(
        before,
        p,
        probe(UsageReport("five_hour", 12.5, FIVE_HOUR_RESET), UsageReport("seven_day", 47.0, WEEK_RESET)),
        T0,
    )
    assert [(w.window, w.utilization) for w in s.usage] == [("seven_day", 47.0), ("five_hour", 12.5)]
    assert quota(s) == (
        "False",
        "QuotaOk",
        "Every usage window is below 80 %; the most used is the weekly window at 47 %.",
    )
    assert derive_transitions(before, s, None) == []
    assert s.phase == "Ready"


def test_passing_the_threshold_warns_once_keeps_ready_and_a_reset_clears_it() -> None:
    p = provider()
    calm = derive_status(ready(p), p, probe(UsageReport("seven_day", 79.0, WEEK_RESET)), T0)
    high = derive_status(calm, p, probe(UsageReport("seven_day", 83.0, WEEK_RESET)), T0)
    status, reason, message = quota(high)
    assert (status, reason) == ("True", "UsageAboveThreshold")
    assert "the weekly window 83 % (it resets at 2026-01-05T03:04:05Z)" in message
    events = derive_transitions(calm, high, None)
    assert [(e.type, e.reason) for e in events] == [("Warning", "UsageAboveThreshold")]
    assert (high.phase, find_condition(high.conditions, "Ready").status) == ("Ready", "True")  # type: ignore[union-attr]
    # A higher figure is a new message, not a new Event.
    higher = derive_status(high, p, probe(UsageReport("seven_day", 91.0, WEEK_RESET)), T0)
    assert quota(higher)[1] == "UsageAboveThreshold"
    assert derive_transitions(high, higher, None) == []
    # The window resets: its reset time has passed, the runtime's figure starts again at 0.
    later = WEEK_RESET + timedelta(minutes=1)
    reset = derive_status(higher, p, probe(UsageReport("seven_day", 91.0, WEEK_RESET)), later)
    assert [(w.window, w.utilization) for w in reset.usage] == [("seven_day", 0.0)]
    assert quota(reset) == ("False", "WindowReset", "The weekly window reset; every window is below 80 %.")
    assert [(e.type, e.reason) for e in derive_transitions(higher, reset, None)] == [("Normal", "WindowReset")]
    # Kept until the next transition: no Event per probe.
    after = derive_status(reset, p, probe(UsageReport("seven_day", 3.0, WEEK_RESET + timedelta(days=7))), later)
    assert quota(after)[1] == "WindowReset"
    assert derive_transitions(reset, after, None) == []


def test_a_new_reset_time_is_a_reset_too() -> None:
    p = provider()
    high = derive_status(ready(p), p, probe(UsageReport("five_hour", 95.0, FIVE_HOUR_RESET)), T0)
    moved = derive_status(high, p, probe(UsageReport("five_hour", 4.0, FIVE_HOUR_RESET + timedelta(hours=5))), T0)
    assert quota(moved)[:2] == ("False", "WindowReset")
    assert "The five-hour window reset" in quota(moved)[2]


def test_the_resources_threshold_wins_over_the_operators() -> None:
    usage = probe(UsageReport("seven_day", 65.0, WEEK_RESET))
    assert quota(derive_status(ready(provider()), provider(), usage, T0))[0] == "False"
    assert quota(derive_status(ready(provider()), provider(), usage, T0, warn_percent=60))[0] == "True"
    strict = provider(quota={"warnPercent": 50})
    assert quota(derive_status(ready(strict), strict, usage, T0, warn_percent=90))[0] == "True"
    lax = provider(quota={"warnPercent": 70})
    assert quota(derive_status(ready(lax), lax, usage, T0, warn_percent=60))[0] == "False"


def test_a_request_that_needed_extra_usage_says_so_and_how_to_turn_it_on() -> None:
    p = provider()
    s = derive_status(
        ready(p), p, probe(last_kind=contract.KIND_EXTRA_USAGE_REQUIRED, last_result="upstream_error"), T0
    )
    status, reason, message = quota(s)
    assert (status, reason) == ("True", "ExtraUsageRequired")
    assert "https://claude.ai/settings/usage" in message
    assert "Other requests are served" in message


def test_a_quota_change_does_not_replace_the_pod() -> None:
    data = {"oauth-token": b"sk-ant-oat01-setup"}
    login = derive_login_facts(provider().spec.credentials, LoginSecret(data))
    assert render_input_hash(provider(), data, login) == render_input_hash(
        provider(quota={"warnPercent": 50}), data, login
    )


def test_the_probe_keeps_only_windows_the_status_can_carry() -> None:
    got = to_usage(
        [
            {"window": "five_hour", "utilization": 12.345, "resetsAt": "2026-01-02T05:04:05Z"},
            {"window": "seven_day", "utilization": True},  # not a number
            {"window": "seven_day_opus", "utilization": 140},  # out of range: no figure
            {"window": "Robert'); DROP", "utilization": 1},  # not a window name
            {"window": "x" * 65, "utilization": 1},
            "not an object",
        ]
    )
    assert got == (
        UsageReport("five_hour", 12.35, datetime(2026, 1, 2, 5, 4, 5, tzinfo=UTC)),
        UsageReport("seven_day", None, None),
        UsageReport("seven_day_opus", None, None),
    )
    assert to_usage({"five_hour": 1}) == ()
    assert len(to_usage([{"window": f"w{i}", "utilization": 1} for i in range(100)])) == 16


def test_derive_usage_starts_a_window_again_once_its_reset_passed() -> None:
    reports = [UsageReport("five_hour", 99.0, T0 - timedelta(seconds=1)), UsageReport("seven_day", None, None)]
    assert [(w.window, w.utilization) for w in derive_usage(reports, T0)] == [("five_hour", 0.0), ("seven_day", None)]


def test_the_window_a_usage_limit_hit_is_named_in_rate_limited() -> None:
    p = provider()
    report = to_auth_report(
        {
            "loggedIn": True,
            "authMethod": "claude.ai",
            "rateLimitedUntil": "2026-01-02T05:04:05Z",
            "rateLimitedWindow": "seven_day_opus",
            "lastRequest": {"result": "rate_limited", "kind": "usage_limit"},
        }
    )
    assert report is not None
    assert report.limited_window == "seven_day_opus"
    s = derive_status(ready(p), p, Facts(probe=ProbeFacts(report, pod_ip="127.100.0.5")), T0)
    c = find_condition(s.conditions, "RateLimited")
    assert c is not None
    assert (c.status, c.reason) == ("True", "UsageLimitReached")
    assert c.message == "The subscription's weekly Opus usage limit is reached; it resets at 2026-01-02T05:04:05Z."
