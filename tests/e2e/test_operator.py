"""The operator against the real control plane, as a process with the chart's RBAC only.

kwok reports the provider pods Running without running them (the pod runner is not used here), so
these tests cover the desired-state side: children, credentials, replacement, suspend, delete,
login sharing, restarts and steady state. Status from a live runtime is covered with the pod runner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.operator_process import OperatorDeployment
from claude_code_devkit.waiting import wait_until
from claude_code_operator import contract

GROUP, VERSION, PLURAL = "claudecode.dev", "v1alpha1", "claudecodeproviders"
ACCESS_TOKEN = "sk-ant-oat01-" + secrets.token_hex(16)
FAST_PROBE = {"intervalSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 1}
DEADLINE = 60


def opted_in(provider: str) -> dict[str, str]:
    """The label with which a Secret's owner lets the operator use it for `provider`, and only for it."""
    return {contract.PROVIDER_LABEL: provider}


def login_secret(name: str, token: str = ACCESS_TOKEN, *, provider: str | None = None) -> client.V1Secret:
    """A `claude auth login` login in a Secret labelled for `provider` (default: `name` without `-login`)."""
    creds = {"claudeAiOauth": {"accessToken": token, "refreshToken": "sk-ant-ort01-" + secrets.token_hex(8)}}
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=opted_in(provider or name.removesuffix("-login"))),
        string_data={".credentials.json": json.dumps(creds), ".claude.json": "{}"},
    )


def resource(name: str, secret: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClaudeCodeProvider",
        "metadata": {"name": name},
        "spec": {"credentials": {"secretName": secret}, "owner": "alice@example.com", "probe": FAST_PROBE, **spec},
    }


def get_ccp(custom: client.CustomObjectsApi, ns: str, name: str) -> dict[str, Any]:
    return custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)  # type: ignore[no-any-return]


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


def wait_condition(
    custom: client.CustomObjectsApi, ns: str, name: str, type_: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        c = condition(get_ccp(custom, ns, name), type_)
        if c and c["status"] == status and (reason is None or c["reason"] == reason):
            return c
        return None

    return wait_until(check, timeout=DEADLINE, what=f"{name} {type_}={status} {reason or ''}")


def read_pod(core: client.CoreV1Api, ns: str, name: str) -> client.V1Pod | None:
    try:
        return core.read_namespaced_pod(name, ns)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def create_with_login(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, name: str, secret: str
) -> client.V1Pod:
    """A login Secret and a resource naming it; returns the pod once the operator has made it."""
    core.create_namespaced_secret(namespace, login_secret(secret, provider=name))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource(name, secret))
    return wait_until(lambda: read_pod(core, namespace, f"{name}-claude-code"), timeout=DEADLINE, what=f"{name}'s pod")


def kubectl_create(cluster: Cluster, ns: str, tmp_path: Path, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{secrets.token_hex(4)}.yaml"
    path.write_text(yaml.safe_dump(obj))
    return cluster.kubectl("create", "--validate=strict", "-n", ns, "-f", str(path), check=False)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"credentials": {"secretName": ""}}, "spec.credentials.secretName"),
        ({"credentials": {"secretName": "s"}, "colour": "red"}, 'unknown field "spec.colour"'),
        ({"credentials": {"secretName": "s"}, "service": {"port": 70000}}, "spec.service.port"),
        ({"credentials": {"secretName": "s"}, "probe": {"intervalSeconds": 1}}, "spec.probe.intervalSeconds"),
        ({"credentials": {"secretName": "s"}, "probe": {"timeoutSeconds": 40}}, "spec.probe.timeoutSeconds"),
        ({"credentials": {"secretName": "s"}, "allowFrom": [{}]}, "spec.allowFrom"),
        (
            {
                "credentials": {"secretName": "s"},
                "allowFrom": [{"ipBlock": {"cidr": "192.0.2.0/24"}, "podSelector": {}}],
            },
            "or an ipBlock alone",
        ),
        ({"credentials": {"secretName": "s"}, "masterKeySecret": {"name": "s"}}, "spec.masterKeySecret.name"),
        ({"credentials": {"secretName": "s"}, "models": {"bad name!": "sonnet"}}, "spec.models"),
    ],
)
def test_api_server_refuses_bad_specs_naming_the_field(
    cluster: Cluster, claude_code_crd: None, namespace: str, tmp_path: Path, spec: dict[str, Any], expected: str
) -> None:
    obj = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClaudeCodeProvider", "metadata": {"name": "bad"}, "spec": spec}
    result = kubectl_create(cluster, namespace, tmp_path, obj)
    assert result.returncode != 0, f"accepted: {spec}"
    assert expected in result.stderr, result.stderr
    good = {**obj, "metadata": {"name": "good"}, "spec": {"credentials": {"secretName": "s"}}}
    assert kubectl_create(cluster, namespace, tmp_path, good).returncode == 0


def test_resource_gets_owned_children_status_and_events(
    cluster: Cluster,
    core: client.CoreV1Api,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorDeployment,
) -> None:
    proc = operator.start()
    core.create_namespaced_secret(namespace, login_secret("alice-login"))
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, resource("alice", "alice-login", allowFrom=[{"podSelector": {}}])
    )
    uid = created["metadata"]["uid"]
    pod = wait_until(lambda: read_pod(core, namespace, "alice-claude-code"), timeout=DEADLINE, what="the pod")
    net, rbac = client.NetworkingV1Api(api), client.RbacAuthorizationV1Api(api)
    children = {
        "pod": pod,
        "service": core.read_namespaced_service("alice", namespace),
        "configmap": core.read_namespaced_config_map("alice-litellm", namespace),
        "keys": core.read_namespaced_secret("alice-claude-code-keys", namespace),
        "networkpolicy": net.read_namespaced_network_policy("alice-claude-code", namespace),
        # A .credentials.json login: the pod writes its refreshes back with an account of its own.
        "serviceaccount": core.read_namespaced_service_account("alice-claude-code", namespace),
        "role": rbac.read_namespaced_role("alice-claude-code", namespace),
        "rolebinding": rbac.read_namespaced_role_binding("alice-claude-code", namespace),
    }
    for kind, child in children.items():
        refs = child.metadata.owner_references or []
        assert [(r.kind, r.uid, r.controller) for r in refs] == [("ClaudeCodeProvider", uid, True)], kind
    assert sorted(children["keys"].data) == ["login-fingerprint-key", "master-key", "runtime-token"]
    # The login's hashes on the pod are keyed (HMAC with the keys Secret's key), no bare sha256 of the login.
    fingerprint_key = base64.b64decode(children["keys"].data["login-fingerprint-key"])
    assert len(fingerprint_key) >= 32
    login_file = base64.b64decode(core.read_namespaced_secret("alice-login", namespace).data[".credentials.json"])
    digest = pod.metadata.annotations["claudecode.dev/login-digest"]
    assert len(digest) == 64, digest
    assert digest != hashlib.sha256(login_file).hexdigest()
    assert (pod.spec.service_account_name, pod.spec.automount_service_account_token) == ("alice-claude-code", False)
    assert [(r.resource_names, r.verbs) for r in children["role"].rules] == [(["alice-login"], ["get", "patch"])]
    assert [c.name for c in pod.spec.containers] == ["claude", "litellm"]
    assert "claude-code/sonnet" in children["configmap"].data["config.yaml"]

    wait_condition(custom, namespace, "alice", "CredentialsValid", "True", "Valid")
    wait_condition(custom, namespace, "alice", "PodReady", "True", "PodReady")
    obj = get_ccp(custom, namespace, "alice")
    assert obj["status"]["endpoint"] == f"http://alice.{namespace}.svc:4000/v1"
    assert obj["status"]["podName"] == "alice-claude-code"
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    # No runtime answers at the pod IP here: after the threshold the login is Unknown, not False.
    wait_condition(custom, namespace, "alice", "Authenticated", "Unknown", "ProbeFailed")
    table = cluster.kubectl("get", "ccp", "alice", "-n", namespace).stdout
    assert table.split("\n")[0].split() == ["NAME", "READY", "AUTH", "SUBSCRIPTION", "USED%", "ENDPOINT", "AGE"], table
    assert "ProbeFailed" in table
    assert f"http://alice.{namespace}.svc:4000/v1" in table

    # Nothing secret anywhere a user or log collector looks.
    keys = {k: base64.b64decode(v).decode() for k, v in children["keys"].data.items()}
    events = json.dumps([e.to_dict() for e in core.list_namespaced_event(namespace).items], default=str)
    for text in (json.dumps(get_ccp(custom, namespace, "alice")), events, proc.logs()):
        for value in (ACCESS_TOKEN, *keys.values()):
            assert value not in text
    assert 'claude_code_operator_probe_results_total{outcome="unreachable"}' in proc.metrics()


def test_missing_secret_is_reported_then_fixed_by_creating_it(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    operator.start()
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("bob", "bob-login"))
    c = wait_condition(custom, namespace, "bob", "CredentialsValid", "False", "SecretNotFound")
    assert "kubectl create secret generic bob-login" in c["message"]

    def warning() -> list[Any]:
        return [e for e in core.list_namespaced_event(namespace).items if e.reason == "SecretNotFound"]

    events = wait_until(warning, timeout=DEADLINE, what="a SecretNotFound Event")
    assert events[0].type == "Warning"
    assert "bob-login" in events[0].message
    assert get_ccp(custom, namespace, "bob")["status"]["phase"] == "Invalid"
    assert read_pod(core, namespace, "bob-claude-code") is None

    core.create_namespaced_secret(namespace, login_secret("bob-login"))
    wait_until(lambda: read_pod(core, namespace, "bob-claude-code"), timeout=DEADLINE, what="the pod after the fix")
    wait_condition(custom, namespace, "bob", "CredentialsValid", "True", "Valid")
    assert len(warning()) == 1, "one Event per transition, not one per reconcile"


def test_api_key_in_the_secret_is_refused_without_a_pod(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    operator.start()
    api_key = "sk-ant-api03-" + secrets.token_hex(16)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="k", labels=opted_in("carol")), string_data={"oauth-token": api_key}
        ),
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("carol", "k"))
    c = wait_condition(custom, namespace, "carol", "CredentialsValid", "False", "ApiKeyNotAllowed")
    assert api_key not in json.dumps(get_ccp(custom, namespace, "carol"))
    assert "setup-token" in c["message"]
    assert read_pod(core, namespace, "carol-claude-code") is None


def test_suspend_pod_loss_spec_change_and_rotation_keep_one_pod(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    operator.start()
    first = create_with_login(core, custom, namespace, "dan", "dan-login")

    def new_pod(old_uid: str) -> client.V1Pod | None:
        pod = read_pod(core, namespace, "dan-claude-code")
        return pod if pod is not None and pod.metadata.uid != old_uid and not pod.metadata.deletion_timestamp else None

    # A deleted pod is replaced.
    core.delete_namespaced_pod("dan-claude-code", namespace)
    second = wait_until(lambda: new_pod(first.metadata.uid), timeout=DEADLINE, what="a replacement pod")

    # A spec change replaces the pod; a rotated login too.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "dan", {"spec": {"admission": {"maxInFlight": 2}}}
    )
    third = wait_until(lambda: new_pod(second.metadata.uid), timeout=DEADLINE, what="the pod for the new spec")
    env = {e.name: e.value for e in third.spec.containers[0].env}
    assert env["CLAUDE_RUNTIME_MAX_IN_FLIGHT"] == "2"
    core.replace_namespaced_secret("dan-login", namespace, login_secret("dan-login", token="sk-ant-oat01-rotated"))
    fourth = wait_until(lambda: new_pod(third.metadata.uid), timeout=DEADLINE, what="the pod for the rotated login")

    # Suspend removes the pod and says so; resuming brings one back.
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "dan", {"spec": {"suspend": True}})
    wait_condition(custom, namespace, "dan", "PodReady", "False", "Suspended")
    wait_until(lambda: read_pod(core, namespace, "dan-claude-code") is None, timeout=DEADLINE, what="no pod")
    assert get_ccp(custom, namespace, "dan")["status"]["phase"] == "Suspended"
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "dan", {"spec": {"suspend": False}})
    wait_until(lambda: new_pod(fourth.metadata.uid), timeout=DEADLINE, what="the pod after resuming")
    pods = core.list_namespaced_pod(namespace, label_selector="claudecode.dev/provider=dan").items
    assert len(pods) == 1


def test_a_second_resource_on_a_login_labelled_for_the_first_is_refused_until_the_label_names_it(
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorDeployment,
) -> None:
    operator.start()
    create_with_login(core, custom, namespace, "first", "shared")
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource("second", "shared"))
    c = wait_condition(custom, namespace, "second", "CredentialsValid", "False", "SecretLabelledForOther")
    assert "labelled claudecode.dev/provider=first" in c["message"]
    assert read_pod(core, namespace, "second-claude-code") is None

    # The user's Secret stays; the first resource's children go; the label still names first, so nothing
    # starts until the owner relabels it (the command the message gives).
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "first")

    def first_gone() -> bool:
        return not [
            o.metadata.name
            for items in (
                core.list_namespaced_pod(namespace, label_selector="claudecode.dev/provider=first").items,
                core.list_namespaced_config_map(namespace, label_selector="claudecode.dev/provider=first").items,
                core.list_namespaced_service(namespace, label_selector="claudecode.dev/provider=first").items,
            )
            for o in items
        ]

    wait_until(first_gone, timeout=DEADLINE, what="the first resource's children to be deleted")
    assert core.read_namespaced_secret("shared", namespace).data, "the user's Secret is left alone"
    assert read_pod(core, namespace, "second-claude-code") is None
    command = cluster.run_quoted(c["message"], "relabel it")
    assert command == f"kubectl label secret shared -n {namespace} claudecode.dev/provider=second --overwrite"
    wait_until(lambda: read_pod(core, namespace, "second-claude-code"), timeout=DEADLINE, what="second's pod")
    wait_condition(custom, namespace, "second", "CredentialsValid", "True", "Valid")


def test_liveness_fails_when_the_operator_loses_api_access(
    cluster: Cluster, namespace: str, operator: OperatorDeployment
) -> None:
    proc = operator.start()
    assert proc.live()
    cluster.kubectl("delete", "clusterrolebinding", f"{operator.release}-claude-code-operator")
    # kopf caches probe results for 10 s; then the check runs again and fails.
    wait_until(lambda: not proc.live(), timeout=DEADLINE, what="liveness to fail without API access")


def test_killed_operator_restarts_without_duplicates_and_steady_state_writes_nothing(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    proc = operator.start()
    create_with_login(core, custom, namespace, "erin", "erin-login")
    proc.kill()
    keys_before = core.read_namespaced_secret("erin-claude-code-keys", namespace).data
    pod_uid = core.read_namespaced_pod("erin-claude-code", namespace).metadata.uid
    operator.start()
    wait_condition(custom, namespace, "erin", "Authenticated", "Unknown", "ProbeFailed")
    pods = core.list_namespaced_pod(namespace).items
    assert [p.metadata.uid for p in pods] == [pod_uid], "the restarted operator kept the pod"
    assert core.read_namespaced_secret("erin-claude-code-keys", namespace).data == keys_before, "keys kept"

    # Settled: three more probes happen, and not one write reaches the resource.
    version = get_ccp(custom, namespace, "erin")["metadata"]["resourceVersion"]
    restarted = operator.processes[-1]
    probes = probe_count(restarted.metrics())
    wait_until(lambda: probe_count(restarted.metrics()) >= probes + 3, timeout=DEADLINE, what="three more probes")
    assert get_ccp(custom, namespace, "erin")["metadata"]["resourceVersion"] == version


def probe_count(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("claude_code_operator_probe_results_total{")
    )


def test_operator_killed_in_the_middle_of_a_batch_converges_without_duplicates(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, operator: OperatorDeployment
) -> None:
    count = 12
    proc = operator.start()
    for i in range(count):
        core.create_namespaced_secret(namespace, login_secret(f"login-{i}", provider=f"p{i}"))
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource(f"p{i}", f"login-{i}"))
    # Kill as soon as the first pod exists: the other reconciles are in flight or not started.
    wait_until(lambda: core.list_namespaced_pod(namespace).items, timeout=DEADLINE, what="the first pod")
    proc.kill()
    keys_at_kill = {
        s.metadata.name: s.data
        for s in core.list_namespaced_secret(namespace).items
        if s.metadata.name.endswith("-keys")
    }
    operator.start()

    def converged() -> bool:
        return len(core.list_namespaced_pod(namespace).items) == count and all(
            (condition(o, "CredentialsValid") or {}).get("status") == "True"
            for o in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
        )

    wait_until(converged, timeout=2 * DEADLINE, what=f"{count} pods and statuses after the restart")
    pods = core.list_namespaced_pod(namespace).items
    assert sorted(p.metadata.name for p in pods) == sorted(f"p{i}-claude-code" for i in range(count))
    keys = {
        s.metadata.name: s.data
        for s in core.list_namespaced_secret(namespace).items
        if s.metadata.name.endswith("-keys")
    }
    assert len(keys) == count
    for name, data in keys_at_kill.items():
        if sorted(data or {}) == ["login-fingerprint-key", "master-key", "runtime-token"]:
            assert keys[name] == data, f"{name} was regenerated after the restart"
