"""The operator with the real runtime: its pods run (pod runner), its status follows the login.

The operator runs as a process under the chart's RBAC (`operator` fixture); the pod runner starts
both containers of every pod it makes, so the official openai client reaches pod IP:4000 -> LiteLLM
-> runtime -> real CLI -> the fake upstream, and the operator's probes read the real runtime's
/auth/status. Probes run every 5 s (the CRD's minimum), so "within two probe intervals" is 10 s.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import openai
import pytest
from kubernetes import client, watch

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply, authentication_error, rate_limit_error
from claude_code_devkit.operator_process import OperatorDeployment
from claude_code_devkit.podrunner import PodRunner, RunningPod
from claude_code_devkit.waiting import wait_until
from tests.e2e.test_operator import GROUP, PLURAL, VERSION, condition, get_ccp, opted_in, probe_count, read_pod
from tests.e2e.test_podrunner_sidecar import wait_for_litellm

INTERVAL = 5
PROBE = {"intervalSeconds": INTERVAL, "timeoutSeconds": 4, "failureThreshold": 3}
START = 120  # a pod's containers up: operator apply, pod runner, LiteLLM's slow import on a busy machine


def login_secret(name: str, token: str) -> client.V1Secret:
    """A setup-token login labelled for the resource `name` without `-login` names."""
    meta = client.V1ObjectMeta(name=name, labels=opted_in(name.removesuffix("-login")))
    return client.V1Secret(metadata=meta, string_data={"oauth-token": token})


def provider(name: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClaudeCodeProvider",
        "metadata": {"name": name},
        "spec": {"credentials": {"secretName": secret}, "owner": "alice@example.com", "probe": PROBE},
    }


def new_token() -> str:
    return "sk-ant-oat01-" + secrets.token_urlsafe(32)


def running_pod(
    core: client.CoreV1Api, runner: PodRunner, ns: str, name: str, old_uid: str | None = None
) -> RunningPod:
    """The runner's processes of the provider's current pod (another than `old_uid`), LiteLLM answering."""

    def current() -> RunningPod | None:
        pod = read_pod(core, ns, f"{name}-claude-code")
        if pod is None or pod.metadata.uid == old_uid or pod.metadata.deletion_timestamp:
            return None
        running = runner.running().get(pod.metadata.uid)
        return running if running is not None and set(running.containers) == {"claude", "litellm"} else None

    try:
        found = wait_until(current, timeout=START, what=f"the pod runner to run {name}'s pod")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{runner.describe(ns, f'{name}-claude-code')}") from None
    wait_for_litellm(found)
    return found


def keys(core: client.CoreV1Api, ns: str, name: str) -> dict[str, str]:
    data = core.read_namespaced_secret(f"{name}-claude-code-keys", ns).data
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def chat(pod: RunningPod, master_key: str, text: str = "Say hello") -> str:
    with httpx.Client(trust_env=False) as http:
        api = openai.OpenAI(
            base_url=f"http://{pod.pod_ip}:4000/v1", api_key=master_key, http_client=http, max_retries=0, timeout=120
        )
        reply = api.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content or ""


def within(
    seconds: float, custom: client.CustomObjectsApi, ns: str, name: str, type_: str, status: str
) -> dict[str, Any]:
    """The condition reaches `status` within `seconds` from now (polled every 0.2 s)."""
    started = time.monotonic()

    def reached() -> dict[str, Any] | None:
        found = condition(get_ccp(custom, ns, name), type_)
        return found if found is not None and found["status"] == status else None

    found = wait_until(reached, timeout=seconds, what=f"{name} {type_}={status} within {seconds} s")
    assert time.monotonic() - started <= seconds + 0.5
    return found


@contextmanager
def pod_watch(api: client.ApiClient, ns: str, label: str) -> Iterator[list[tuple[str, str]]]:
    """Records (event type, pod uid) for the provider's pods, in the API server's order."""
    events: list[tuple[str, str]] = []
    stop = threading.Event()
    core = client.CoreV1Api(api)

    def run() -> None:
        version = core.list_namespaced_pod(ns, label_selector=label).metadata.resource_version
        deadline = time.monotonic() + 900
        while not stop.is_set() and time.monotonic() < deadline:
            w: Any = watch.Watch()  # untyped in the client
            for event in w.stream(
                core.list_namespaced_pod, ns, label_selector=label, resource_version=version, timeout_seconds=2
            ):
                pod = event["object"]
                version = pod.metadata.resource_version
                events.append((event["type"], pod.metadata.uid))
                if stop.is_set():
                    w.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield events
    finally:
        stop.set()
        thread.join(timeout=10)


def most_pods_at_once(events: list[tuple[str, str]]) -> int:
    alive: set[str] = set()
    most = 0
    for kind, uid in events:
        if kind == "DELETED":
            alive.discard(uid)
        else:
            alive.add(uid)
        most = max(most, len(alive))
    return most


def versions(api: client.ApiClient, custom: client.CustomObjectsApi, ns: str, name: str) -> dict[str, str]:
    """resourceVersion of the resource and each of its children."""
    core, net = client.CoreV1Api(api), client.NetworkingV1Api(api)
    reads: dict[str, Callable[[], Any]] = {
        "pod": lambda: core.read_namespaced_pod(f"{name}-claude-code", ns),
        "service": lambda: core.read_namespaced_service(name, ns),
        "configmap": lambda: core.read_namespaced_config_map(f"{name}-litellm", ns),
        "keys": lambda: core.read_namespaced_secret(f"{name}-claude-code-keys", ns),
        "networkpolicy": lambda: net.read_namespaced_network_policy(f"{name}-claude-code", ns),
    }
    found = {kind: read().metadata.resource_version for kind, read in reads.items()}
    found["resource"] = get_ccp(custom, ns, name)["metadata"]["resourceVersion"]
    return found


@dataclass
class World:
    """Everything these tests use: the cluster's clients, a namespace, the operator, pods that run."""

    api: client.ApiClient
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    namespace: str
    operator: OperatorDeployment
    pod_runner: PodRunner
    fake_upstream: FakeAnthropic


@pytest.fixture
def world(
    api: client.ApiClient,
    core: client.CoreV1Api,
    namespace: str,
    operator: OperatorDeployment,
    pod_runner: PodRunner,
    fake_upstream: FakeAnthropic,
) -> World:
    return World(api, core, client.CustomObjectsApi(api), namespace, operator, pod_runner, fake_upstream)


def test_a_completion_through_the_operators_pod_and_status_follows_the_login(world: World) -> None:
    api, core, custom, namespace = world.api, world.core, world.custom, world.namespace
    operator, pod_runner, fake_upstream = world.operator, world.pod_runner, world.fake_upstream
    proc = operator.start()
    token = new_token()
    core.create_namespaced_secret(namespace, login_secret("alice-login", token))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, provider("alice", "alice-login"))
    pod = running_pod(core, pod_runner, namespace, "alice")
    within(START, custom, namespace, "alice", "Authenticated", "True")
    master_key = keys(core, namespace, "alice")["master-key"]

    fake_upstream.clear()
    fake_upstream.enqueue(TextReply(["Hello from ", "the operator's pod"]))
    assert chat(pod, master_key) == "Hello from the operator's pod"
    assert [r.bearer_token for r in fake_upstream.messages_requests] == [token]
    # Any other key is a 401 that says so (not LiteLLM's 400 "No connected db."), and reaches nobody's login.
    with pytest.raises(openai.AuthenticationError) as refused:
        chat(pod, "sk-" + "0" * 48)
    assert "The API key is wrong" in refused.value.message
    assert len(fake_upstream.messages_requests) == 1

    # Revoked at the upstream: the next request fails, and the probe reports it.
    fake_upstream.default_reply = authentication_error()
    with pytest.raises(openai.APIStatusError):
        chat(pod, master_key)
    revoked = within(2 * INTERVAL, custom, namespace, "alice", "Authenticated", "False")
    assert revoked["reason"] == "LoginRejected", revoked
    fake_upstream.default_reply = TextReply(["Back"])
    # No cooldown: the owner is served again at once (router_settings.disable_cooldowns).
    assert chat(pod, master_key) == "Back"
    within(2 * INTERVAL, custom, namespace, "alice", "Authenticated", "True")

    # A usage limit: RateLimited with the reset time, the login still authenticated; a success clears it.
    reset = int(time.time()) + 3 * 3600
    fake_upstream.enqueue(rate_limit_error(reset_at=reset))
    with pytest.raises(openai.APIStatusError) as limited:
        chat(pod, master_key)
    assert limited.value.status_code == 429
    within(2 * INTERVAL, custom, namespace, "alice", "RateLimited", "True")
    status = get_ccp(custom, namespace, "alice")["status"]
    assert condition({"status": status}, "Authenticated")["status"] == "True"  # type: ignore[index]
    until = status["auth"]["rateLimitedUntil"]
    assert abs(datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp() - reset) <= 5, until
    # No cooldown: the owner is served again at once (router_settings.disable_cooldowns).
    assert chat(pod, master_key) == "Back"
    within(2 * INTERVAL, custom, namespace, "alice", "RateLimited", "False")

    # Steady state: probes keep succeeding and nothing is written, to the resource or its children.
    before = versions(api, custom, namespace, "alice")
    probes = probe_count(proc.metrics())
    wait_until(
        lambda: probe_count(proc.metrics()) >= probes + 3, timeout=5 * INTERVAL, what="three more probes", interval=0.5
    )
    assert versions(api, custom, namespace, "alice") == before

    # Nothing secret where a user or a log collector looks.
    events = json.dumps([e.to_dict() for e in core.list_namespaced_event(namespace).items], default=str)
    texts = {"status": json.dumps(get_ccp(custom, namespace, "alice")), "events": events, "logs": proc.logs()}
    for where, text in texts.items():
        for secret in (token, *keys(core, namespace, "alice").values()):
            assert secret not in text, f"a secret in the operator's {where}"
    assert "LoginRejected" in events, "the revocation was announced"


def test_pod_loss_rotation_and_a_killed_operator_keep_one_pod_at_a_time(world: World) -> None:
    api, core, custom, namespace = world.api, world.core, world.custom, world.namespace
    operator, pod_runner, fake_upstream = world.operator, world.pod_runner, world.fake_upstream
    label = "claudecode.dev/provider=bob"
    with pod_watch(api, namespace, label) as seen:
        proc = operator.start()
        first_token = new_token()
        core.create_namespaced_secret(namespace, login_secret("bob-login", first_token))
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, provider("bob", "bob-login"))
        first = running_pod(core, pod_runner, namespace, "bob")
        master_key = keys(core, namespace, "bob")["master-key"]

        # Pod loss: replaced, and the replacement serves.
        core.delete_namespaced_pod("bob-claude-code", namespace)
        second = running_pod(core, pod_runner, namespace, "bob", old_uid=first.uid)
        assert first.stopped()
        assert chat(second, master_key) == TextReply().full_text

        # Rotation: the new login is served only by a new pod, started after the old one is gone.
        rotated = new_token()
        core.replace_namespaced_secret("bob-login", namespace, login_secret("bob-login", rotated))
        third = running_pod(core, pod_runner, namespace, "bob", old_uid=second.uid)
        fake_upstream.clear()
        assert chat(third, master_key) == TextReply().full_text
        assert [r.bearer_token for r in fake_upstream.messages_requests] == [rotated]

        # SIGKILL mid-reconcile: a spec change makes the operator delete the pod; it dies right after.
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "bob", {"spec": {"admission": {"maxInFlight": 2}}}
        )

        def old_pod_going() -> bool:
            pod = read_pod(core, namespace, "bob-claude-code")
            return pod is None or pod.metadata.uid != third.uid or pod.metadata.deletion_timestamp is not None

        wait_until(old_pod_going, timeout=60, interval=0.02, what="the operator to delete the old pod")
        proc.kill()
        operator.start()
        fourth = running_pod(core, pod_runner, namespace, "bob", old_uid=third.uid)
        assert fourth.container("claude").env["CLAUDE_RUNTIME_MAX_IN_FLIGHT"] == "2"
        assert chat(fourth, master_key) == TextReply().full_text
        within(START, custom, namespace, "bob", "Authenticated", "True")

        # The operator's own children; the login Secret carries the opt-in label too but is the user's.
        label = f"{label},app.kubernetes.io/managed-by=claude-code-operator"
        children: dict[str, list[Any]] = {
            "pods": core.list_namespaced_pod(namespace, label_selector=label).items,
            "services": core.list_namespaced_service(namespace, label_selector=label).items,
            "configmaps": core.list_namespaced_config_map(namespace, label_selector=label).items,
            "secrets": core.list_namespaced_secret(namespace, label_selector=label).items,
        }
        for kind, items in children.items():
            assert len(items) == 1, f"{kind}: {[i.metadata.name for i in items]}"
        assert keys(core, namespace, "bob")["master-key"] == master_key, "the restart kept the generated keys"

    uids = {uid for _, uid in seen}
    assert {first.uid, second.uid, third.uid, fourth.uid} <= uids, seen
    assert most_pods_at_once(seen) == 1, f"two pods of one login existed at once: {seen}"
