"""Status derivation: conditions per API conventions, usage limit never unauthenticated, no churn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from claude_code_operator.api.resource import Provider
from claude_code_operator.api.status import ClaudeCodeProviderStatus, find_condition
from claude_code_operator.credentials import CredentialsCheck
from claude_code_operator.observations import AuthReport, PodFacts, ProbeFacts
from claude_code_operator.status import Facts, derive_status, derive_transitions

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VALID = CredentialsCheck(True, "Valid", "ok")
READY_POD = PodFacts("ready", "alice-claude-code", ip="127.100.0.5")
LIMIT_RESET = T0 + timedelta(hours=3)


def provider(**spec: object) -> Provider:
    return Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": "team", "uid": "u", "generation": 2},
            "spec": {"credentials": {"secretName": "login"}, **spec},
        }
    )


def report(**overrides: object) -> ProbeFacts:
    fields: dict[str, object] = {
        "logged_in": True,
        "method": "claude.ai",
        "subscription_type": "max",
        "expires_at": None,
        "rate_limited_until": None,
        "last_result": "ok",
        "reason": "Logged in.",
        **overrides,
    }
    return ProbeFacts(AuthReport(**fields), pod_ip="127.100.0.5")  # type: ignore[arg-type]


def conditions(status: ClaudeCodeProviderStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def ready_status() -> ClaudeCodeProviderStatus:
    s = derive_status(ClaudeCodeProviderStatus(), provider(), Facts(credentials=VALID, pod=READY_POD), T0)
    return derive_status(s, provider(), Facts(probe=report()), T0)


def test_fresh_resource_is_pending_with_endpoint_and_generation() -> None:
    s = derive_status(
        ClaudeCodeProviderStatus(),
        provider(),
        Facts(credentials=VALID, pod=PodFacts("pending", "alice-claude-code")),
        T0,
    )
    assert s.phase == "Pending"
    assert s.endpoint == "http://alice.team.svc:4000/v1"
    assert s.observed_generation == 2
    assert s.pod_name == "alice-claude-code"
    got = conditions(s)
    assert got["CredentialsValid"] == ("True", "Valid")
    assert got["PodReady"] == ("False", "PodStarting")
    assert got["Authenticated"] == ("Unknown", "Probing")
    assert got["Ready"][0] != "True"
    assert all(c.observed_generation == 2 for c in s.conditions)


def test_a_new_resource_that_comes_up_posts_two_normal_events_and_no_warning() -> None:
    """Starting and not-probed-yet are on the way, not news: `kubectl describe` shows the outcomes."""
    fresh = ClaudeCodeProviderStatus()
    pending = PodFacts("pending", "alice-claude-code")
    starting = derive_status(fresh, provider(), Facts(credentials=VALID, pod=pending), T0)
    ready = derive_status(starting, provider(), Facts(pod=READY_POD), T0)
    probed = derive_status(ready, provider(), Facts(probe=report()), T0)
    steps = [derive_transitions(a, b, None) for a, b in [(fresh, starting), (starting, ready), (ready, probed)]]
    assert [[(e.type, e.reason) for e in events] for events in steps] == [
        [],
        [("Normal", "PodReady")],
        [("Normal", "LoggedIn")],
    ]


def test_a_lost_pod_is_news_and_its_replacement_starting_says_so() -> None:
    s = ready_status()
    lost = derive_status(s, provider(), Facts(pod=PodFacts("pending", "alice-claude-code")), T0 + timedelta(1))
    assert [(e.type, e.reason) for e in derive_transitions(s, lost, None)] == [("Warning", "PodStarting")]


def test_a_runtime_that_stops_answering_is_a_warning() -> None:
    s = ready_status()
    silent = derive_status(s, provider(), Facts(probe=ProbeFacts(None, pod_ip="127.100.0.5")), T0)
    assert [(e.type, e.reason) for e in derive_transitions(s, silent, None)] == [("Warning", "ProbeFailed")]


def test_a_new_resource_without_its_secret_warns_once_about_the_secret() -> None:
    missing = CredentialsCheck(False, "SecretNotFound", "Secret team/login not found")
    s = derive_status(ClaudeCodeProviderStatus(), provider(), Facts(credentials=missing, pod=PodFacts("withheld")), T0)
    assert [(e.type, e.reason) for e in derive_transitions(ClaudeCodeProviderStatus(), s, None)] == [
        ("Warning", "SecretNotFound"),
        ("Warning", "NoUsableLogin"),
    ]


def test_logged_in_pod_is_ready_and_rederiving_changes_nothing() -> None:
    s = ready_status()
    assert s.phase == "Ready"
    assert conditions(s)["Ready"] == ("True", "Ready")
    assert s.auth is not None
    assert (s.auth.logged_in, s.auth.subscription_type) == (True, "max")
    again = derive_status(s, provider(), Facts(credentials=VALID, pod=READY_POD), T0 + timedelta(minutes=5))
    again = derive_status(again, provider(), Facts(probe=report()), T0 + timedelta(minutes=5))
    assert again == s, "steady state: identical status, so nothing is written"


def test_last_transition_time_moves_only_when_status_changes() -> None:
    s = ready_status()
    later = T0 + timedelta(minutes=10)
    same_status_new_reason = derive_status(s, provider(), Facts(probe=report(reason="Still logged in.")), later)
    auth = find_condition(same_status_new_reason.conditions, "Authenticated")
    assert auth is not None
    assert auth.last_transition_time == T0
    rejected = derive_status(s, provider(), Facts(probe=report(logged_in=False, last_result="unauthorized")), later)
    auth = find_condition(rejected.conditions, "Authenticated")
    assert auth is not None
    assert (auth.status, auth.reason, auth.last_transition_time) == ("False", "LoginRejected", later)
    assert "setup-token" in auth.message
    assert rejected.phase == "Unauthenticated"


def test_usage_limit_is_rate_limited_not_unauthenticated_and_success_clears_it() -> None:
    s = ready_status()
    limited = derive_status(
        s, provider(), Facts(probe=report(rate_limited_until=LIMIT_RESET, last_result="rate_limited")), T0
    )
    got = conditions(limited)
    assert got["Authenticated"] == ("True", "LoggedIn")
    assert got["RateLimited"] == ("True", "UsageLimitReached")
    rate = find_condition(limited.conditions, "RateLimited")
    assert rate is not None
    assert "2026-01-02T06:04:05Z" in rate.message
    assert limited.auth is not None
    assert limited.auth.rate_limited_until == LIMIT_RESET
    assert limited.phase == "RateLimited"
    events = derive_transitions(s, limited, owner="alice@example.com")
    assert [(e.type, e.reason) for e in events] == [("Warning", "UsageLimitReached")]
    assert "alice@example.com" in events[0].message
    cleared = derive_status(limited, provider(), Facts(probe=report()), T0 + timedelta(hours=4))
    assert conditions(cleared)["RateLimited"] == ("False", "WithinLimits")
    assert cleared.phase == "Ready"
    assert [(e.type, e.reason) for e in derive_transitions(limited, cleared, None)] == [("Normal", "WithinLimits")]


def test_invalid_credentials_post_one_warning_and_recover() -> None:
    missing = CredentialsCheck(False, "SecretNotFound", "Secret team/login does not exist. Create it: ...")
    s = derive_status(ClaudeCodeProviderStatus(), provider(), Facts(credentials=missing, pod=PodFacts("withheld")), T0)
    assert s.phase == "Invalid"
    assert conditions(s)["PodReady"] == ("False", "NoUsableLogin")
    events = derive_transitions(ClaudeCodeProviderStatus(), s, None)
    assert ("Warning", "SecretNotFound") in [(e.type, e.reason) for e in events]
    same = derive_status(s, provider(), Facts(credentials=missing, pod=PodFacts("withheld")), T0 + timedelta(1))
    assert derive_transitions(s, same, None) == [], "no repeated Event while nothing changes"
    fixed = derive_status(
        s, provider(), Facts(credentials=VALID, pod=PodFacts("pending", "alice-claude-code")), T0 + timedelta(1)
    )
    assert ("Normal", "Valid") in [(e.type, e.reason) for e in derive_transitions(s, fixed, None)]


def test_suspended_says_so() -> None:
    s = derive_status(ready_status(), provider(suspend=True), Facts(credentials=VALID, pod=PodFacts("suspended")), T0)
    assert s.phase == "Suspended"
    pod = find_condition(s.conditions, "PodReady")
    assert pod is not None
    assert (pod.status, pod.reason) == ("False", "Suspended")
    assert "suspend" in pod.message
    assert s.pod_name is None


def test_probe_failures_past_the_threshold_make_auth_unknown() -> None:
    failed = ProbeFacts(None, pod_ip="127.100.0.5", detail="no answer within 5 s")
    s = derive_status(ready_status(), provider(), Facts(probe=failed), T0)
    auth = find_condition(s.conditions, "Authenticated")
    assert auth is not None
    assert (auth.status, auth.reason) == ("Unknown", "ProbeFailed")
    assert "127.100.0.5:8080/auth/status" in auth.message
    assert s.phase == "Degraded"


def test_rejected_login_on_an_unready_pod_is_unauthenticated_not_pending() -> None:
    # In a cluster the runtime's /readyz fails while its login is rejected: the pod runs, unready.
    unready = PodFacts("unready", "alice-claude-code", ip="127.100.0.5", detail="readiness probe failed")
    s = derive_status(ready_status(), provider(), Facts(credentials=VALID, pod=unready), T0)
    s = derive_status(s, provider(), Facts(probe=report(logged_in=False, last_result="unauthorized")), T0)
    assert conditions(s)["PodReady"] == ("False", "PodNotReady")
    assert conditions(s)["Authenticated"] == ("False", "LoginRejected")
    assert s.phase == "Unauthenticated"
    assert conditions(s)["Ready"][0] == "False"
