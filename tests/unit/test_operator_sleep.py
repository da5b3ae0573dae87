"""Sleeping providers: idle measured by the operator's clock from the runtime's request counts, the sleep
and wake decisions, the plan that removes an asleep provider's pod, and what its status says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.unit.test_operator_status import report

from claude_code_operator import contract
from claude_code_operator.api.resource import Provider
from claude_code_operator.api.status import ClaudeCodeProviderStatus, find_condition
from claude_code_operator.config import OperatorConfig
from claude_code_operator.credentials import CredentialsCheck, derive_credentials_check
from claude_code_operator.kube.api import Kube
from claude_code_operator.login_facts import LoginSecret
from claude_code_operator.observations import Observation, PodFacts, RequestCount
from claude_code_operator.plan import derive_plan
from claude_code_operator.probe import to_auth_report
from claude_code_operator.render.pod import render_pod
from claude_code_operator.sleep import Activity, SleepState, derive_activity, derive_idle_default, derive_sleep
from claude_code_operator.state import State
from claude_code_operator.status import Facts, derive_status, derive_transitions

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VALID = CredentialsCheck(True, "Valid", "ok")
READY_POD = PodFacts("ready", "alice-claude-code", ip="127.100.0.5")
SETUP_TOKEN = {"oauth-token": b"sk-ant-oat01-setup"}
KEY = b"alice's fingerprint key"


def provider(**spec: Any) -> Provider:
    return Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 2},
            "spec": {"credentials": {"secretName": "alice-login"}, **spec},
        }
    )


SLEEPY = provider(idle={"sleepAfterSeconds": 60})


def serving(p: Provider = SLEEPY, now: datetime = T0) -> ClaudeCodeProviderStatus:
    sleep: SleepState | None = "awake" if p.spec.idle.sleep_after_seconds else None
    s = derive_status(ClaudeCodeProviderStatus(), p, Facts(credentials=VALID, pod=READY_POD, sleep=sleep), now)
    return derive_status(s, p, Facts(probe=report(requests=RequestCount(0, 0))), now)


def asleep_since(at: datetime) -> ClaudeCodeProviderStatus:
    return derive_status(serving(), SLEEPY, Facts(credentials=VALID, pod=PodFacts("asleep"), sleep="asleep"), at)


def conditions(status: ClaudeCodeProviderStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


# Idle, by the operator's clock


def test_the_first_probe_of_a_pod_starts_its_idle_clock_and_an_unchanged_count_keeps_it() -> None:
    first = derive_activity(None, RequestCount(3, 0), True, T0)
    assert first == Activity(3, 0, T0)
    assert derive_activity(first, RequestCount(3, 0), True, T0 + timedelta(minutes=5)) == first


def test_a_changed_count_or_a_request_in_flight_restarts_the_idle_clock() -> None:
    before = Activity(3, 0, T0)
    later = T0 + timedelta(minutes=5)
    assert derive_activity(before, RequestCount(4, 0), True, later) == Activity(4, 0, later)
    # One long request: nothing new started, but it is not answered yet.
    assert derive_activity(before, RequestCount(3, 1), True, later) == Activity(3, 1, later)


def test_the_idle_clock_runs_only_while_the_pod_is_ready() -> None:
    assert derive_activity(Activity(3, 0, T0), RequestCount(3, 0), False, T0 + timedelta(minutes=5)) is None
    later = T0 + timedelta(minutes=6)
    assert derive_activity(None, RequestCount(3, 0), True, later) == Activity(3, 0, later)


def test_a_runtime_that_does_not_count_its_requests_is_never_idle() -> None:
    assert derive_activity(Activity(3, 0, T0), None, True, T0 + timedelta(days=1)) is None
    status = serving()
    assert derive_sleep(SLEEPY, status, None, None, T0 + timedelta(days=1)) == "awake"


# The sleep decision


def test_a_ready_pod_sleeps_after_exactly_sleep_after_without_a_request_and_not_a_second_sooner() -> None:
    status = serving()
    idle = Activity(5, 0, T0)
    assert derive_sleep(SLEEPY, status, None, idle, T0 + timedelta(seconds=59)) == "awake"
    assert derive_sleep(SLEEPY, status, None, idle, T0 + timedelta(seconds=60)) == "asleep"


def test_a_request_at_the_last_probe_postpones_the_sleep_by_a_whole_sleep_after() -> None:
    status = serving()
    at = T0 + timedelta(seconds=59)
    idle = derive_activity(Activity(5, 0, T0), RequestCount(6, 0), True, at)
    assert derive_sleep(SLEEPY, status, None, idle, T0 + timedelta(seconds=60)) == "awake"
    assert derive_sleep(SLEEPY, status, None, idle, at + timedelta(seconds=60)) == "asleep"


def test_the_idle_clock_starts_only_at_the_first_probe_after_a_request_in_flight_ended() -> None:
    during = derive_activity(Activity(5, 0, T0), RequestCount(6, 1), True, T0 + timedelta(seconds=5))
    after = T0 + timedelta(seconds=10)
    ended = derive_activity(during, RequestCount(6, 0), True, after)
    assert ended == Activity(6, 0, after)
    assert derive_activity(ended, RequestCount(6, 0), True, after + timedelta(seconds=5)) == ended


def test_a_request_in_flight_keeps_the_pod_awake() -> None:
    status = serving()
    at = T0 + timedelta(seconds=60)
    idle = derive_activity(Activity(5, 0, T0), RequestCount(5, 1), True, at)
    assert derive_sleep(SLEEPY, status, None, idle, at) == "awake"


@pytest.mark.parametrize("idle", [{}, {"sleepAfterSeconds": 0}])
def test_without_sleep_after_nothing_sleeps_and_no_asleep_condition_appears(idle: dict[str, int]) -> None:
    p = provider(idle=idle)
    status = serving(p)
    assert derive_sleep(p, status, None, Activity(5, 0, T0), T0 + timedelta(days=30)) is None
    assert "Asleep" not in conditions(status)


def test_a_suspended_provider_does_not_sleep_and_lifting_suspend_starts_the_pod() -> None:
    p = provider(idle={"sleepAfterSeconds": 60}, suspend=True)
    assert derive_sleep(p, serving(), None, Activity(5, 0, T0), T0 + timedelta(hours=1)) == "awake"
    assert derive_sleep(p, asleep_since(T0), None, None, T0 + timedelta(hours=1)) == "awake"


def test_a_pod_that_is_not_ready_keeps_its_status_rather_than_sleeping() -> None:
    rejected = derive_status(
        ClaudeCodeProviderStatus(),
        SLEEPY,
        Facts(credentials=VALID, pod=PodFacts("unready", "alice-claude-code", ip="127.100.0.5"), sleep="awake"),
        T0,
    )
    assert derive_sleep(SLEEPY, rejected, None, Activity(5, 0, T0), T0 + timedelta(hours=1)) == "awake"


# The wake decision


def test_an_asleep_provider_stays_asleep_until_a_wake_newer_than_its_sleep() -> None:
    slept = T0 + timedelta(minutes=10)
    status = asleep_since(slept)
    later = slept + timedelta(hours=1)
    assert derive_sleep(SLEEPY, status, None, None, later) == "asleep"
    assert derive_sleep(SLEEPY, status, slept - timedelta(seconds=1), None, later) == "asleep"
    assert derive_sleep(SLEEPY, status, slept, None, later) == "asleep", "not newer than the sleep"
    assert derive_sleep(SLEEPY, status, slept + timedelta(seconds=1), None, later) == "woken"


def test_a_woken_pod_sleeps_again_only_after_a_new_full_sleep_after() -> None:
    slept = T0 + timedelta(minutes=10)
    woke = slept + timedelta(minutes=5)
    woken = derive_status(asleep_since(slept), SLEEPY, Facts(credentials=VALID, pod=READY_POD, sleep="woken"), woke)
    assert conditions(woken)["Asleep"] == ("False", "WakeRequested")
    ready = derive_status(woken, SLEEPY, Facts(probe=report(requests=RequestCount(0, 0))), woke)
    first_probe = woke + timedelta(seconds=20)
    idle = derive_activity(None, RequestCount(0, 0), True, first_probe)  # the new pod's first probe
    assert derive_sleep(SLEEPY, ready, woke, idle, first_probe + timedelta(seconds=59)) == "woken"
    assert derive_sleep(SLEEPY, ready, woke, idle, first_probe + timedelta(seconds=60)) == "asleep"


def test_turning_sleep_off_wakes_an_asleep_provider() -> None:
    p = provider(idle={"sleepAfterSeconds": 0})
    assert derive_sleep(p, asleep_since(T0), None, None, T0 + timedelta(hours=1)) == "off"


# The plan


def test_an_asleep_provider_has_its_pod_deleted_and_then_waits_for_a_wake() -> None:
    check = derive_credentials_check(SLEEPY.spec.credentials, SLEEPY.namespace, SETUP_TOKEN)
    pod = render_pod(SLEEPY, SETUP_TOKEN, KEY)
    pod["metadata"]["uid"] = "pod-uid"
    pod["status"] = {"phase": "Running", "podIP": "127.100.0.9", "conditions": [{"type": "Ready", "status": "True"}]}
    seen = Observation(LoginSecret(SETUP_TOKEN), pod, True, ())
    plan = derive_plan(SLEEPY, check, seen, OperatorConfig().pod_defaults, fingerprint_key=KEY, asleep=True)
    assert (plan.pod_plan, plan.action, plan.facts, plan.why) == ("remove", "delete", PodFacts("asleep"), "asleep")
    gone = Observation(LoginSecret(SETUP_TOKEN), None, True, ())
    plan = derive_plan(SLEEPY, check, gone, OperatorConfig().pod_defaults, fingerprint_key=KEY, asleep=True)
    assert (plan.pod_plan, plan.action) == ("remove", "wait")
    woken = derive_plan(SLEEPY, check, gone, OperatorConfig().pod_defaults, fingerprint_key=KEY, asleep=False)
    assert (woken.pod_plan, woken.action) == ("run", "create")


def test_no_usable_login_is_reported_as_such_while_asleep() -> None:
    check = derive_credentials_check(SLEEPY.spec.credentials, SLEEPY.namespace, None)
    seen = Observation(None, None, True, ())
    plan = derive_plan(SLEEPY, check, seen, OperatorConfig().pod_defaults, fingerprint_key=KEY, asleep=True)
    assert plan.facts == PodFacts("withheld")


# The status


def test_an_asleep_provider_is_phase_asleep_and_ready_since_the_first_request_wakes_it() -> None:
    slept = T0 + timedelta(minutes=10)
    status = asleep_since(slept)
    assert status.phase == "Asleep"
    got = conditions(status)
    assert got["Asleep"] == ("True", "Idle")
    assert got["PodReady"] == ("False", "Asleep")
    assert got["Authenticated"] == ("Unknown", "Asleep")
    assert got["Ready"] == ("False", "Asleep")
    asleep = find_condition(status.conditions, "Asleep")
    assert asleep is not None
    assert asleep.last_transition_time == slept
    assert "No request for 60 s" in asleep.message
    assert contract.WAKE_REQUESTED_ANNOTATION in asleep.message


def test_falling_asleep_and_waking_post_one_normal_event_each_and_no_warning() -> None:
    before = serving()
    status = asleep_since(T0 + timedelta(minutes=10))
    events = derive_transitions(before, status, None)
    assert [(e.type, e.reason) for e in events] == [("Normal", "Idle")]
    woke = T0 + timedelta(minutes=20)
    woken = derive_status(status, SLEEPY, Facts(credentials=VALID, pod=PodFacts("pending"), sleep="woken"), woke)
    assert [(e.type, e.reason) for e in derive_transitions(status, woken, None)] == [("Normal", "WakeRequested")]
    assert woken.phase == "Pending"
    assert conditions(woken)["Ready"] == ("False", "PodStarting")


def test_a_suspended_or_invalid_provider_keeps_its_phase_while_asleep() -> None:
    status = asleep_since(T0)
    invalid = CredentialsCheck(False, "SecretNotFound", "no Secret")
    s = derive_status(status, SLEEPY, Facts(credentials=invalid, pod=PodFacts("withheld"), sleep="asleep"), T0)
    assert s.phase == "Invalid"
    assert conditions(s)["Ready"] == ("False", "SecretNotFound")


def test_a_sleep_enabled_provider_says_when_it_sleeps() -> None:
    asleep = find_condition(serving().conditions, "Asleep")
    assert asleep is not None
    assert (asleep.status, asleep.reason) == ("False", "NotIdle")
    assert asleep.message == "The pod sleeps after 60 s without a request."


# What the probe reads, and the wake annotation


def test_the_probe_reads_the_request_counts_and_ignores_nonsense() -> None:
    base = {"loggedIn": True, "reason": "Logged in."}
    report = to_auth_report({**base, "requests": {"started": 7, "inFlight": 2}})
    assert report is not None
    assert report.requests == RequestCount(7, 2)
    nonsense: list[Any] = [None, [], {"started": 7}, {"started": -1, "inFlight": 0}, {"started": True, "inFlight": 0}]
    for bad in nonsense:
        parsed = to_auth_report({**base, "requests": bad})
        assert parsed is not None
        assert parsed.requests is None


def test_the_wake_annotation_is_kept_as_last_seen() -> None:
    state = State(config=OperatorConfig(), kube=Kube.__new__(Kube), http=None)  # type: ignore[arg-type]
    body: dict[str, Any] = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 2},
        "spec": {"credentials": {"secretName": "alice-login"}},
    }
    tracked = state.remember(body)
    assert tracked is not None
    assert tracked.wake_requested_at is None
    woken = json.loads(json.dumps(body))
    woken["metadata"]["annotations"] = {contract.WAKE_REQUESTED_ANNOTATION: "2026-01-02T03:14:05Z"}
    assert state.remember(woken) is tracked
    assert tracked.wake_requested_at == T0 + timedelta(minutes=10)


# The chart's default for new resources


def test_a_new_resource_without_sleep_after_gets_the_operators_default_conditionally() -> None:
    assert derive_idle_default(provider(), 900) == [
        {"op": "test", "path": "/metadata/generation", "value": 2},
        {"op": "add", "path": "/spec/idle", "value": {"sleepAfterSeconds": 900}},
    ]


@pytest.mark.parametrize("idle", [{"sleepAfterSeconds": 0}, {"sleepAfterSeconds": 60}])
def test_a_resource_that_sets_sleep_after_keeps_its_own_even_never(idle: dict[str, int]) -> None:
    assert derive_idle_default(provider(idle=idle), 900) is None


def test_without_an_operator_default_nothing_is_written() -> None:
    assert derive_idle_default(provider(), None) is None
