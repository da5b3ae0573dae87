"""A provider that sleeps when idle: after spec.idle.sleepAfterSeconds without a request its pod is removed
(the login it refreshed written back first) and `kubectl get ccp` says Asleep; the wake annotation brings a
pod back, which starts from that login and serves.

The real runtime in pods of the pod runner (which stops a deleted pod's processes as a kubelet does:
SIGTERM, then the grace period), the fake Anthropic API, and the fake OAuth server, whose refresh tokens
are single-use: a woken pod that started from a spent refresh token would be refused its refresh.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.fakes.anthropic_api import TextReply
from claude_code_devkit.fakes.oauth_server import FakeOAuthServer
from claude_code_devkit.waiting import wait_until
from tests.e2e.test_login_writeback import (
    WRITTEN_BY,
    no_secret_anywhere,
    oauth,  # noqa: F401 (a fixture)
    oauth_secret,
    reconciles,
    secret_login,
)
from tests.e2e.test_operator import GROUP, PLURAL, VERSION, condition, get_ccp, read_pod
from tests.e2e.test_operator_runtime import (
    INTERVAL,
    World,
    chat,
    keys,
    login_secret,
    provider,
    running_pod,
    world,  # noqa: F401 (a fixture)
)

SLEEP_AFTER = 20
WAKE = "claudecode.dev/wake-requested-at"
#: Idle for SLEEP_AFTER from the first probe after the last request, then the next probe, the delete and
#: the runtime's shutdown (its final write-back is bounded by 10 s), on a busy machine.
ASLEEP_WITHIN = SLEEP_AFTER + 2 * INTERVAL + 30


def parse(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def asleep(custom: Any, ns: str, name: str, since: float) -> dict[str, Any] | None:
    """The Asleep condition once it is True and turned so at or after `since` (epoch seconds)."""
    found = condition(get_ccp(custom, ns, name), "Asleep")
    ok = found is not None and found["status"] == "True" and parse(found["lastTransitionTime"]) >= int(since)
    return found if ok else None


def test_an_idle_provider_sleeps_and_a_wake_brings_back_a_pod_with_the_login_written_back(
    world: World,  # noqa: F811
    oauth: FakeOAuthServer,  # noqa: F811
    cluster: Cluster,
) -> None:
    core, custom, ns, fake = world.core, world.custom, world.namespace, world.fake_upstream
    proc = world.operator.start()
    # Access tokens of 200 s: the CLI (which refreshes within 5 minutes of expiry) refreshes in every
    # pod, the woken one too, with the refresh token the Secret holds then.
    oauth.access_seconds = 200
    first_login = oauth.issue(expires_in=-60)
    core.create_namespaced_secret(ns, oauth_secret("ivy-login", first_login))
    body = provider("ivy", "ivy-login")
    body["spec"]["idle"] = {"sleepAfterSeconds": SLEEP_AFTER}
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    pod = running_pod(core, world.pod_runner, ns, "ivy")
    master_key = keys(core, ns, "ivy")["master-key"]
    fake.clear()
    fake.default_reply = TextReply(["Served ", "before sleeping"])
    assert chat(pod, master_key) == "Served before sleeping"
    served_at = time.time()
    assert oauth.accepted(), "the first pod refreshed its expired login"

    # Idle: the pod goes, the resource says Asleep (and stays Ready: the first request wakes it).
    slept = wait_until(lambda: asleep(custom, ns, "ivy", served_at), timeout=ASLEEP_WITHIN, what="ivy to fall asleep")
    assert slept["reason"] == "Idle", slept
    assert parse(slept["lastTransitionTime"]) >= int(served_at) + SLEEP_AFTER, "asleep before sleepAfter"
    wait_until(lambda: read_pod(core, ns, "ivy-claude-code") is None, timeout=60, what="the pod to go")
    wait_until(pod.stopped, timeout=60, what="the pod's processes to stop")
    status = get_ccp(custom, ns, "ivy")["status"]
    assert status["phase"] == "Asleep"
    got = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert got["Ready"] == ("False", "Asleep")
    assert got["PodReady"] == ("False", "Asleep")
    table = cluster.kubectl("get", "ccp", "ivy", "-n", ns).stdout
    header, row = table.splitlines()[:2]
    assert header.split()[:3] == ["NAME", "READY", "PHASE"], table
    assert row.split()[:3] == ["ivy", "False", "Asleep"], table
    # What the sleeping pod wrote back is the login's live one, written by that pod.
    written, annotations = secret_login(core, ns, "ivy-login")
    assert annotations[WRITTEN_BY] == f"pod/{pod.uid}"
    assert oauth.usable(written["refreshToken"]), "the Secret holds the live refresh token"
    falling = [e for e in core.list_namespaced_event(ns).items if e.reason == "Idle"]
    assert [e.type for e in falling] == ["Normal"]

    # Woken by the annotation (as the activator or a person sets it): a pod again, from that login.
    wait_until(lambda: int(time.time()) > parse(slept["lastTransitionTime"]), timeout=2, what="a newer second")
    refreshes_before = len(oauth.refreshes)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "ivy", {"metadata": {"annotations": {WAKE: now}}})
    second = running_pod(core, world.pod_runner, ns, "ivy", old_uid=pod.uid)
    woken = condition(get_ccp(custom, ns, "ivy"), "Asleep")
    assert woken is not None
    assert (woken["status"], woken["reason"]) == ("False", "WakeRequested"), woken
    fake.clear()
    fake.default_reply = TextReply(["Served ", "after waking"])
    assert chat(second, master_key) == "Served after waking"
    woken_served_at = time.time()
    wait_until(lambda: len(oauth.refreshes) > refreshes_before, timeout=30, what="the woken pod to refresh")
    assert all(r.accepted for r in oauth.refreshes), oauth.refreshes
    assert fake.messages_requests[-1].bearer_token != first_login.access_token

    # The woken pod sleeps again, after a whole new sleepAfter without a request.
    again = wait_until(
        lambda: asleep(custom, ns, "ivy", woken_served_at), timeout=ASLEEP_WITHIN, what="ivy to sleep again"
    )
    assert parse(again["lastTransitionTime"]) >= int(woken_served_at) + SLEEP_AFTER
    wait_until(lambda: read_pod(core, ns, "ivy-claude-code") is None, timeout=60, what="the woken pod to go")
    assert oauth.usable(secret_login(core, ns, "ivy-login")[0]["refreshToken"])

    tokens = [first_login.access_token, first_login.refresh_token, written["refreshToken"], written["accessToken"]]
    events = json.dumps([e.to_dict() for e in core.list_namespaced_event(ns).items], default=str)
    no_secret_anywhere(
        {"status": json.dumps(get_ccp(custom, ns, "ivy")), "events": events, "operator logs": proc.logs()}, tokens
    )


def test_the_operators_default_sleep_after_is_written_into_new_resources_only(
    world: World,  # noqa: F811
) -> None:
    """The chart's idle.sleepAfterSeconds (--default-sleep-after-seconds): a resource that existed before
    the operator had it keeps its spec; a new one that sets none gets it; one that says 0 (never) keeps 0."""
    core, custom, ns = world.core, world.custom, world.namespace
    first = world.operator.start()
    token = "sk-ant-oat01-" + "y" * 40

    def create(name: str, idle: dict[str, int] | None = None) -> None:
        core.create_namespaced_secret(ns, login_secret(f"{name}-login", token))
        body = provider(name, f"{name}-login")
        body["spec"]["suspend"] = True  # no pod: only the spec is looked at
        if idle is not None:
            body["spec"]["idle"] = idle
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)

    create("old")
    wait_until(lambda: get_ccp(custom, ns, "old").get("status", {}).get("phase") == "Suspended", timeout=60, what="old")
    first.stop()
    second = world.operator.start("--default-sleep-after-seconds=900")
    create("new")
    create("never", {"sleepAfterSeconds": 0})

    def reconciled(name: str) -> dict[str, Any] | None:
        found = get_ccp(custom, ns, name)
        return found if found.get("status", {}).get("phase") == "Suspended" else None

    new = wait_until(lambda: reconciled("new"), timeout=60, what="new reconciled")
    assert new["spec"]["idle"] == {"sleepAfterSeconds": 900}
    assert new["status"]["observedGeneration"] == new["metadata"]["generation"] == 2
    assert wait_until(lambda: reconciled("never"), timeout=60, what="never")["spec"]["idle"] == {"sleepAfterSeconds": 0}
    # The resource that existed before (reconciled at the start, with the other two) got nothing.
    wait_until(lambda: reconciles(second.metrics(), "resource") >= 3, timeout=30, what="three reconciles")
    old = get_ccp(custom, ns, "old")
    assert "idle" not in old["spec"]
    assert old["metadata"]["generation"] == 1
