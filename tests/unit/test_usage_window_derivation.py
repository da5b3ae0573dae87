"""The plan's usage windows: which one a usage limit hit, and how full each is after every answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from claude_agent_sdk import RateLimitEvent, RateLimitInfo, ResultMessage
from prometheus_client import CollectorRegistry

from claude_code_provider.auth.status import Outcome, TokenInfo, derive_auth_status
from claude_code_provider.engine.translate import TurnState, judge_result
from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.runtime.usage import UsageCollector, UsageTracker
from claude_code_provider.usage import UsageWindow, derive_usage_windows

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
RESETS = 1_767_340_800  # 2026-01-02T08:00:00Z


def limit_hit(window: str | None) -> ClaudeCodeError:
    state = TurnState()
    info = RateLimitInfo(status="rejected", resets_at=RESETS, rate_limit_type=window)  # type: ignore[arg-type]
    state.observe(RateLimitEvent(rate_limit_info=info, uuid="u", session_id="s"))
    result = ResultMessage(
        subtype="success",
        duration_ms=1,
        duration_api_ms=0,
        is_error=True,
        num_turns=1,
        session_id="s",
        result="You've hit your limit",
        api_error_status=429,
    )
    with pytest.raises(ClaudeCodeError) as caught:
        judge_result(result, state, now=NOW.timestamp())
    return caught.value


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("five_hour", "The Claude subscription's five-hour usage limit is reached; it resets at 2026-01-02T08:00:00Z."),
        ("seven_day", "The Claude subscription's weekly usage limit is reached; it resets at 2026-01-02T08:00:00Z."),
        (
            "seven_day_opus",
            "The Claude subscription's weekly Opus usage limit is reached; it resets at 2026-01-02T08:00:00Z.",
        ),
        (
            "seven_day_sonnet",
            "The Claude subscription's weekly Sonnet usage limit is reached; it resets at 2026-01-02T08:00:00Z.",
        ),
        (None, "The Claude subscription's usage limit is reached; it resets at 2026-01-02T08:00:00Z."),
    ],
)
def test_a_usage_limit_names_the_window_that_was_hit(window: str | None, message: str) -> None:
    error = limit_hit(window)
    assert (error.kind, error.status, error.window) == (ErrorKind.USAGE_LIMIT, 429, window)
    assert error.message == message + " This is not a login problem."


def test_auth_status_names_the_window_until_it_resets() -> None:
    outcome = Outcome.of(ClaudeCodeError(ErrorKind.USAGE_LIMIT, "m", retry_after=600, window="seven_day"), NOW)

    def status(now: datetime) -> dict[str, object]:
        derived = derive_auth_status(
            cli={"loggedIn": True}, login_problem=None, token=TokenInfo(), outcome=outcome, cli_version=None, now=now
        )
        return derived.model_dump(mode="json")

    limited = status(NOW)
    assert (limited["rateLimitedWindow"], limited["loggedIn"]) == ("seven_day", True)
    assert limited["reason"] == "Logged in; the subscription's weekly usage limit is reached until it resets."
    assert status(NOW + timedelta(minutes=11))["rateLimitedWindow"] is None


def test_windows_from_a_rate_limit_event_as_the_cli_sends_it() -> None:
    raw = {
        "status": "rejected",
        "resetsAt": 1_767_600_000,
        "rateLimitType": "seven_day_opus",
        "unifiedWindows": {
            "five_hour": {"utilization": 0.47, "resetsAt": 1_767_340_800, "status": "allowed"},
            "seven_day": {"utilization": 1, "resetsAt": 1_767_600_000, "status": "allowed_warning"},
        },
    }
    assert derive_usage_windows(raw) == [
        UsageWindow(
            window="five_hour",
            utilization=47.0,
            resets_at=datetime(2026, 1, 2, 8, 0, tzinfo=UTC),
            status="allowed",
        ),
        UsageWindow(
            window="seven_day",
            utilization=100.0,
            resets_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
            status="allowed_warning",
        ),
        UsageWindow(
            window="seven_day_opus",
            utilization=None,
            resets_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
            status="rejected",
        ),
    ]


@pytest.mark.parametrize("raw", [{}, {"unifiedWindows": "x"}, {"unifiedWindows": {"five_hour": {"utilization": "a"}}}])
def test_malformed_windows_are_skipped_or_left_empty(raw: dict[str, object]) -> None:
    windows = derive_usage_windows(raw)
    assert all(w.utilization is None and w.resets_at is None for w in windows)


def event(raw: dict[str, object]) -> RateLimitInfo:
    return RateLimitInfo(status="allowed", raw=raw)


def test_the_tracker_keeps_the_last_figures_and_a_reset_window_reads_empty() -> None:
    tracker = UsageTracker()
    resets = 1_767_340_800  # 2026-01-02T08:00:00Z
    tracker.observe(event({"unifiedWindows": {"five_hour": {"utilization": 0.9, "resetsAt": resets}}}))
    tracker.observe(event({"rateLimitType": "five_hour", "resetsAt": resets, "status": "allowed_warning"}))
    (window,) = tracker.windows(NOW)
    assert (window.window, window.utilization, window.status) == ("five_hour", 90.0, "allowed_warning")
    (after_reset,) = tracker.windows(datetime(2026, 1, 2, 8, 0, 1, tzinfo=UTC))
    assert (after_reset.utilization, after_reset.status) == (0.0, "allowed")


def test_usage_metrics_are_derived_at_scrape_time() -> None:
    tracker = UsageTracker()
    registry = CollectorRegistry()
    registry.register(UsageCollector(tracker))
    far = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    tracker.observe(event({"unifiedWindows": {"seven_day": {"utilization": 0.83, "resetsAt": far}}}))
    assert registry.get_sample_value("claude_code_usage_utilization", {"window": "seven_day"}) == 83.0
    assert registry.get_sample_value("claude_code_usage_resets_at_seconds", {"window": "seven_day"}) == far
