"""Faults the operator recovers from, on the real control plane (kwok reports the pods Running; no pod
runner here): refusals, an API it may not use for a while, children deleted or edited behind its back,
bad login bytes."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.operator_process import CHART, OperatorDeployment
from claude_code_devkit.waiting import wait_until
from tests.e2e.test_operator import (
    DEADLINE,
    GROUP,
    PLURAL,
    VERSION,
    condition,
    create_with_login,
    get_ccp,
    login_secret,
    opted_in,
    read_pod,
    resource,
    wait_condition,
)


def warnings(core: client.CoreV1Api, namespace: str, reason: str) -> list[Any]:
    return [e for e in core.list_namespaced_event(namespace).items if e.reason == reason and e.type == "Warning"]


def test_a_pod_refused_by_a_resource_quota_is_a_false_condition_and_comes_once_the_quota_goes(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    quota = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name="no-pods"), spec={"hard": {"pods": "0"}})
    core.create_namespaced_resource_quota(namespace, quota)
    wait_until(
        lambda: (core.read_namespaced_resource_quota("no-pods", namespace).status.hard or {}).get("pods") == "0",
        timeout=DEADLINE,
        what="the quota to be counted",
    )
    operator.start()
    core.create_namespaced_secret(namespace, login_secret("q-login", provider="quota"))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("quota", "q-login"))
    c = wait_condition(custom, namespace, "quota", "PodReady", "False", "Refused")
    assert c["message"].startswith("The API server refused Pod quota-claude-code (HTTP 403: "), c["message"]
    assert "exceeded quota: no-pods" in c["message"]
    ready = condition(get_ccp(custom, namespace, "quota"), "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "Refused")
    events = wait_until(lambda: warnings(core, namespace, "Refused"), timeout=DEADLINE, what="a Refused Event")
    assert "exceeded quota: no-pods" in events[0].message

    core.delete_namespaced_resource_quota("no-pods", namespace)
    wait_until(lambda: read_pod(core, namespace, "quota-claude-code"), timeout=DEADLINE, what="the pod after the fix")
    wait_condition(custom, namespace, "quota", "PodReady", "True", "PodReady")
    assert len(warnings(core, namespace, "Refused")) == 1, "one Event for the refusal, not one per retry"


def test_an_invalid_placement_is_refused_with_the_field_and_a_fixed_spec_gets_the_pod(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    operator.start()
    core.create_namespaced_secret(namespace, login_secret("p-login", provider="placed"))
    bad = resource("placed", "p-login", placement={"nodeSelector": {"not a label!": "x"}})
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, bad)
    c = wait_condition(custom, namespace, "placed", "PodReady", "False", "Refused")
    assert "(HTTP 422: " in c["message"], c["message"]
    assert "spec.nodeSelector" in c["message"]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "placed", {"spec": {"placement": {"nodeSelector": None}}}
    )
    wait_until(lambda: read_pod(core, namespace, "placed-claude-code"), timeout=DEADLINE, what="the pod after the fix")


def test_a_pod_lost_while_the_operator_may_not_create_pods_is_replaced_once_it_may(
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorDeployment,
) -> None:
    """A reconcile triggered by the pod's own DELETED event fails for longer than a few quick retries;
    no further event comes, and the pod is still replaced."""
    operator.start()
    core.create_namespaced_secret(namespace, login_secret("b-login", provider="brown"))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("brown", "b-login"))
    first = wait_until(lambda: read_pod(core, namespace, "brown-claude-code"), timeout=DEADLINE, what="the pod")
    role = f"{operator.release}-claude-code-operator"
    rules = json.loads(cluster.kubectl("get", "clusterrole", role, "-o", "json").stdout)["rules"]
    no_create = [
        {**r, "verbs": [v for v in r["verbs"] if v != "create"]} if "pods" in r.get("resources", []) else r
        for r in rules
    ]
    cluster.kubectl("patch", "clusterrole", role, "--type=merge", "-p", json.dumps({"rules": no_create}))
    core.delete_namespaced_pod("brown-claude-code", namespace)
    wait_condition(custom, namespace, "brown", "PodReady", "False", "Refused")
    # Five refused tries (about 15 s: 1+2+4+8 s apart) is where an event-triggered reconcile used to give up.
    refusals = f"refused a child of {namespace}/brown"
    log = operator.processes[-1]
    wait_until(lambda: log.logs().count(refusals) >= 5, timeout=DEADLINE, what="five refused tries")
    cluster.kubectl("patch", "clusterrole", role, "--type=merge", "-p", json.dumps({"rules": rules}))

    def replaced() -> client.V1Pod | None:
        pod = read_pod(core, namespace, "brown-claude-code")
        return pod if pod is not None and pod.metadata.uid != first.metadata.uid else None

    wait_until(replaced, timeout=2 * DEADLINE, what="a replacement pod once creating pods is allowed again")
    wait_condition(custom, namespace, "brown", "PodReady", "True", "PodReady")


def test_provider_containers_get_default_resources_and_the_spec_overrides_them(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    """Neither container is left without requests (a BestEffort pod is the first evicted)."""
    operator.start("--litellm-resources", '{"requests": {"cpu": "20m", "memory": "300Mi"}}')
    core.create_namespaced_secret(namespace, login_secret("r-login", provider="sized"))
    sized = resource("sized", "r-login", runtime={"resources": {"requests": {"memory": "1Gi"}}})
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, sized)
    pod = wait_until(lambda: read_pod(core, namespace, "sized-claude-code"), timeout=DEADLINE, what="the pod")
    resources = {c.name: (c.resources.requests, c.resources.limits) for c in pod.spec.containers}
    assert resources == {
        "claude": ({"memory": "1Gi"}, {"memory": "2Gi"}),
        "litellm": ({"cpu": "20m", "memory": "300Mi"}, {"memory": "1Gi"}),
    }
    assert pod.status.qos_class == "Burstable"


def test_deleted_or_edited_children_come_back_and_a_deleted_keys_secret_rotates_the_keys(
    core: client.CoreV1Api,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorDeployment,
) -> None:
    operator.start()
    first = create_with_login(core, custom, namespace, "kid", "kid-login")
    wait_condition(custom, namespace, "kid", "PodReady", "True", "PodReady")
    net = client.NetworkingV1Api(api)
    core.delete_namespaced_service("kid", namespace)
    net.delete_namespaced_network_policy("kid-claude-code", namespace)
    core.patch_namespaced_config_map("kid-litellm", namespace, {"data": {"config.yaml": "edited: true\n"}})

    def restored() -> bool:
        services = core.list_namespaced_service(namespace, field_selector="metadata.name=kid").items
        policies = net.list_namespaced_network_policy(namespace, field_selector="metadata.name=kid-claude-code").items
        config = core.read_namespaced_config_map("kid-litellm", namespace).data["config.yaml"]
        return bool(services) and bool(policies) and "claude-code/sonnet" in config

    wait_until(restored, timeout=15, what="the Service, NetworkPolicy and ConfigMap restored")
    assert read_pod(core, namespace, "kid-claude-code").metadata.uid == first.metadata.uid, "no restart for that"

    # Rotation: the deleted keys Secret comes back with new keys, and the pod is replaced to use them.
    before = core.read_namespaced_secret("kid-claude-code-keys", namespace).data
    core.delete_namespaced_secret("kid-claude-code-keys", namespace)

    def rotated() -> dict[str, str] | None:
        found = core.list_namespaced_secret(namespace, field_selector="metadata.name=kid-claude-code-keys").items
        return found[0].data if found and found[0].data != before else None

    keys = wait_until(rotated, timeout=15, what="new keys")
    assert sorted(keys) == ["login-fingerprint-key", "master-key", "runtime-token"]
    assert keys["master-key"] != before["master-key"]
    assert keys["runtime-token"] != before["runtime-token"]
    assert keys["login-fingerprint-key"] != before["login-fingerprint-key"]

    def replaced() -> client.V1Pod | None:
        pod = read_pod(core, namespace, "kid-claude-code")
        fresh = pod is not None and pod.metadata.uid != first.metadata.uid and not pod.metadata.deletion_timestamp
        return pod if fresh else None

    wait_until(replaced, timeout=DEADLINE, what="a pod started with the new keys")


class _Answer(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_a_hostile_pods_answers_cannot_stop_its_status_from_updating(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    """What answers at the pod IP (kwok runs no container there, so this test does): a reason far over the
    status schema's 32,768 characters, then an answer of 1 MiB, then a sane one."""
    operator.start()
    pod = create_with_login(core, custom, namespace, "evil", "evil-login")
    ip = wait_until(lambda: read_pod(core, namespace, "evil-claude-code").status.pod_ip, timeout=DEADLINE, what="IP")
    server = ThreadingHTTPServer((ip, 8080), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Answer.body = json.dumps({"loggedIn": False, "reason": "r" * 40000}).encode()
        c = wait_condition(custom, namespace, "evil", "Authenticated", "False", "NotLoggedIn")
        assert c["message"].startswith("r" * 1021 + "... ")
        _Answer.body = b'{"loggedIn": true, "reason": "' + b"x" * (1024 * 1024) + b'"}'
        c = wait_condition(custom, namespace, "evil", "Authenticated", "Unknown", "ProbeFailed")
        assert "the answer is larger than 64 KiB" in c["message"]
        _Answer.body = json.dumps({"loggedIn": True, "reason": "Logged in."}).encode()
        wait_condition(custom, namespace, "evil", "Authenticated", "True", "LoggedIn")
    finally:
        server.shutdown()
        server.server_close()
    assert pod.metadata.uid == read_pod(core, namespace, "evil-claude-code").metadata.uid


def test_a_setup_token_saved_as_utf16_is_a_condition_and_gets_no_pod(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    """PowerShell's `>` writes UTF-16 with a byte-order mark; the runtime would crash on it at start-up."""
    operator.start()
    token = "sk-ant-oat01-e2e-token".encode("utf-16")
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="bom", labels=opted_in("bom")),
            data={"oauth-token": base64.b64encode(token).decode()},
        ),
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("bom", "bom"))
    c = wait_condition(custom, namespace, "bom", "CredentialsValid", "False", "MalformedCredentials")
    assert "it is UTF-16 text (it starts with a UTF-16 byte-order mark)" in c["message"]
    assert get_ccp(custom, namespace, "bom")["status"]["phase"] == "Invalid"
    assert read_pod(core, namespace, "bom-claude-code") is None


def test_a_standalone_operators_deployment_is_recreated_not_rolled(cluster: Cluster, tmp_path: Path) -> None:
    def strategy(*values: str) -> dict[str, Any] | None:
        rendered = cluster.helm(
            "template", "cco", str(CHART), "--show-only", "templates/deployment.yaml",
            *(arg for value in values for arg in ("--set", value)),
            helm_home=tmp_path / "helm",
        ).stdout  # fmt: skip
        return yaml.safe_load(rendered)["spec"].get("strategy")

    assert strategy() == {"type": "Recreate"}, "two standalone operators would both act"
    assert strategy("replicas=2") is None, "with peering the default rolling update is safe"


def test_an_operator_that_renders_pods_differently_replaces_them_one_at_a_time(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    proc = operator.start()
    names_ = ["r0", "r1", "r2"]
    first = {n: create_with_login(core, custom, namespace, n, f"{n}-login").metadata.uid for n in names_}
    proc.stop()
    # A new operator "version": the same specs render other pods.
    operator.start("--runtime-resources", '{"requests": {"memory": "700Mi"}}', "--rollout-seconds", "3")

    def all_replaced() -> list[client.V1Pod] | None:
        pods = [read_pod(core, namespace, f"{n}-claude-code") for n in names_]
        fresh = [p for p in pods if p is not None and p.metadata.uid not in first.values()]
        return fresh if len(fresh) == len(names_) else None

    pods = wait_until(all_replaced, timeout=2 * DEADLINE, what="every pod replaced")
    assert {p.spec.containers[0].resources.requests["memory"] for p in pods} == {"700Mi"}
    created = sorted(p.metadata.creation_timestamp for p in pods)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(created)]
    assert min(gaps) >= 2, f"replaced together, not one at a time: {created}"
