"""The plan's quota in plain sight, end to end: the fake upstream's unified rate-limit headers, read by the
real CLI in the provider pod, reach the runtime's /auth/status, the operator's probe, `status.usage`, the
`Used%` column and `QuotaLow` (one Warning Event), which clears when the window resets."""

from __future__ import annotations

import time

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.fakes.anthropic_api import TextReply, unified_rate_limit_headers
from claude_code_devkit.waiting import wait_until
from claude_code_operator.api.spec import GROUP, PLURAL, VERSION
from tests.e2e.test_operator import get_ccp
from tests.e2e.test_operator_runtime import (
    INTERVAL,
    START,
    World,
    chat,
    keys,
    login_secret,
    new_token,
    provider,
    running_pod,
    within,
    world,  # noqa: F401 (a fixture)
)

RESET_IN = 40  # seconds until the five-hour window "resets": long enough to see QuotaLow True first


def test_usage_shows_in_the_status_and_quota_low_appears_and_clears(
    cluster: Cluster,
    world: World,  # noqa: F811
) -> None:
    core, custom, namespace = world.core, world.custom, world.namespace
    world.operator.start("--quota-warn-percent", "85")
    core.create_namespaced_secret(namespace, login_secret("quinn-login", new_token()))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, provider("quinn", "quinn-login"))
    pod = running_pod(core, world.pod_runner, namespace, "quinn")
    within(START, custom, namespace, "quinn", "Authenticated", "True")
    assert within(2 * INTERVAL, custom, namespace, "quinn", "QuotaLow", "False")["reason"] == "QuotaOk"

    reset_at = int(time.time()) + RESET_IN
    headers = unified_rate_limit_headers(reset_at=reset_at, utilization_5h=0.9, utilization_7d=0.41)
    world.fake_upstream.enqueue(TextReply("ok", headers=headers))
    assert chat(pod, keys(core, namespace, "quinn")["master-key"]) == "ok"

    low = within(3 * INTERVAL, custom, namespace, "quinn", "QuotaLow", "True")
    assert low["reason"] == "UsageAboveThreshold"
    assert "at or above 85 %: the five-hour window 90 %" in low["message"]
    usage = get_ccp(custom, namespace, "quinn")["status"]["usage"]
    assert [(w["window"], w["utilization"]) for w in usage] == [("five_hour", 90), ("seven_day", 41)]
    header, row = cluster.kubectl("get", "ccp", "quinn", "-n", namespace).stdout.splitlines()[:2]
    # Columns by position: an empty SUBSCRIPTION cell would shift a whitespace split.
    start = header.index("USED%")
    assert row[start : header.index("ENDPOINT")].strip() == "90", (header, row)
    # Still Ready: quota left is served.
    assert get_ccp(custom, namespace, "quinn")["status"]["phase"] == "Ready"

    def warnings() -> list[str]:
        events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=quinn").items
        return [e.reason for e in events if e.type == "Warning"]

    wait_until(lambda: "UsageAboveThreshold" in warnings(), timeout=30, what="the QuotaLow Warning Event")

    # The window resets: no request needed, the runtime starts it at 0 and the next probe says so.
    cleared = within(RESET_IN + 3 * INTERVAL, custom, namespace, "quinn", "QuotaLow", "False")
    assert (cleared["reason"], cleared["message"]) == (
        "WindowReset",
        "The five-hour window reset; every window is below 85 %.",
    )
    usage = get_ccp(custom, namespace, "quinn")["status"]["usage"]
    assert [(w["window"], w["utilization"]) for w in usage] == [("seven_day", 41), ("five_hour", 0)]
    assert warnings().count("UsageAboveThreshold") == 1, "one Warning Event for one crossing"
