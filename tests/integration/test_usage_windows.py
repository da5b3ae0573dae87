"""The plan's usage in plain sight: every answer's unified rate-limit headers, read by the real CLI,
reach the runtime's /auth/status (`usage`) and /metrics, without a model call of their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from claude_code_devkit.fakes.anthropic_api import (
    FakeAnthropic,
    TextReply,
    rate_limit_error,
    unified_rate_limit_headers,
)
from claude_code_devkit.stack import Runtime

HI = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}


def test_usage_windows_are_served_in_auth_status_and_metrics(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start()
    assert runtime.get("/auth/status").json()["usage"] == [], "nothing heard yet"
    reset_5h = int(time.time()) + 2 * 3600
    headers = unified_rate_limit_headers(reset_at=reset_5h, utilization_5h=0.47, utilization_7d=0.83)
    fake.enqueue(TextReply("ok", headers=headers))

    assert runtime.complete(HI).status_code == 200

    usage = {w["window"]: w for w in runtime.get("/auth/status").json()["usage"]}
    assert sorted(usage) == ["five_hour", "seven_day"]
    assert (usage["five_hour"]["utilization"], usage["five_hour"]["status"]) == (47.0, "allowed")
    assert datetime.fromisoformat(usage["five_hour"]["resetsAt"]).timestamp() == reset_5h
    assert usage["seven_day"]["utilization"] == 83.0
    assert runtime.metric("claude_code_usage_utilization", window="five_hour") == 47.0
    assert runtime.metric("claude_code_usage_utilization", window="seven_day") == 83.0
    assert runtime.metric("claude_code_usage_resets_at_seconds", window="five_hour") == reset_5h
    assert len(fake.messages_requests) == 1, "no request of its own"

    # The weekly window hit: its status says so.
    fake.enqueue(rate_limit_error(claim="seven_day"))
    assert runtime.complete(HI).status_code == 429
    usage = {w["window"]: w for w in runtime.get("/auth/status").json()["usage"]}
    assert usage["seven_day"]["status"] == "rejected"
