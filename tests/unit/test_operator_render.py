"""Renderers: a Provider -> the exact children the operator makes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_code_operator.api.resource import Provider
from claude_code_operator.config import ApiServerEndpoint
from claude_code_operator.login_facts import LoginSecret, derive_login_facts, derive_pod_has_login
from claude_code_operator.render.access import render_write_back_access
from claude_code_operator.render.keys import render_keys_secret, to_keys_values
from claude_code_operator.render.litellm import render_config_map
from claude_code_operator.render.network import (
    derive_service_refusal,
    render_network_policy,
    render_service,
    render_write_back_egress,
    to_api_server_endpoints,
)
from claude_code_operator.render.pod import pod_hash, render_pod
from claude_code_provider.llm.reasoning import REASONING_PARAMS

REPO = Path(__file__).resolve().parents[2]
KEY = b"alice's fingerprint key"
LOGIN = {".credentials.json": b'{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x"}}', ".claude.json": b"{}"}


def provider(**spec: Any) -> Provider:
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 3},
        "spec": {"credentials": {"secretName": "alice-login"}, **spec},
    }
    return Provider.from_body(body)


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_pod_follows_the_contract() -> None:
    pod = render_pod(provider(), LOGIN, KEY)
    meta = pod["metadata"]
    assert meta["name"] == "alice-claude-code"
    assert meta["namespace"] == "team"
    assert meta["labels"] == {
        "app.kubernetes.io/name": "claude-code-provider",
        "app.kubernetes.io/instance": "alice",
        "app.kubernetes.io/managed-by": "claude-code-operator",
        "claudecode.dev/provider": "alice",
        "claudecode.dev/login-secret": "alice-login",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "claudecode.dev/v1alpha1",
            "kind": "ClaudeCodeProvider",
            "name": "alice",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    claude = container(pod, "claude")
    assert claude["command"] == ["claude-code-runtime"]
    token_ref = {"secretKeyRef": {"name": "alice-claude-code-keys", "key": "runtime-token"}}
    assert env(claude) == {
        "CLAUDE_LOGIN_DIR": "/var/run/claude-login",
        "CLAUDE_CONFIG_DIR": "/var/lib/claude",
        "HOME": "/home/claude",
        "TMPDIR": "/tmp",
        "CLAUDE_RUNTIME_TOKEN": token_ref,
        "CLAUDE_RUNTIME_MAX_IN_FLIGHT": "4",
        "CLAUDE_RUNTIME_MAX_QUEUED": "16",
        "CLAUDE_RUNTIME_QUEUE_TIMEOUT": "30",
        # A .credentials.json login: the runtime writes refreshed logins back to this Secret.
        "CLAUDE_LOGIN_SECRET": "alice-login",
        "CLAUDE_LOGIN_SECRET_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "CLAUDE_LOGIN_CREDENTIALS_KEY": ".credentials.json",
        "CLAUDE_LOGIN_CLAUDE_JSON_KEY": ".claude.json",
        "CLAUDE_POD_UID": {"fieldRef": {"fieldPath": "metadata.uid"}},
    }
    assert claude["ports"] == [{"name": "health", "containerPort": 8080, "protocol": "TCP"}]
    assert claude["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert claude["readinessProbe"]["httpGet"]["path"] == "/readyz"
    litellm = container(pod, "litellm")
    assert litellm["command"] == [
        "litellm",
        "--config",
        "/etc/litellm/config.yaml",
        "--host",
        "0.0.0.0",
        "--port",
        "4000",
    ]
    litellm_env = env(litellm)
    assert litellm_env["LITELLM_MASTER_KEY"] == {
        "secretKeyRef": {"name": "alice-claude-code-keys", "key": "master-key"}
    }
    assert litellm_env["CLAUDE_RUNTIME_TOKEN"] == token_ref
    assert litellm_env["CLAUDE_RUNTIME_URL"] == "http://127.0.0.1:8081"
    assert litellm_env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert litellm["ports"] == [{"name": "http", "containerPort": 4000, "protocol": "TCP"}]
    assert {m["name"] for m in litellm["volumeMounts"]}.isdisjoint({"login"}), "the sidecar never mounts the login"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["login"]["secret"]["secretName"] == "alice-login"
    assert volumes["litellm-config"]["configMap"]["name"] == "alice-litellm"
    # Only keys that exist become files (a missing item would keep the pod from starting).
    assert volumes["login"]["secret"]["items"] == [
        {"key": ".credentials.json", "path": ".credentials.json"},
        {"key": ".claude.json", "path": ".claude.json"},
    ]


def test_pod_meets_restricted_pod_security() -> None:
    pod = render_pod(provider(), LOGIN, KEY)
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"]:
        ctx = c["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]}
    writable = {m["mountPath"] for m in container(pod, "claude")["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/var/lib/claude", "/home/claude", "/tmp"}


API_ACCESS = {
    "name": "api-access",
    "projected": {
        "defaultMode": 0o400,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        ],
    },
}


def test_only_the_claude_container_of_a_pod_that_writes_back_gets_an_api_token() -> None:
    pod = render_pod(provider(), LOGIN, KEY)
    spec = pod["spec"]
    assert (spec["automountServiceAccountToken"], spec["serviceAccountName"]) == (False, "alice-claude-code")
    assert [v for v in spec["volumes"] if v["name"] == "api-access"] == [API_ACCESS]
    assert {
        "name": "api-access",
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    } in container(pod, "claude")["volumeMounts"]
    assert [m["name"] for m in container(pod, "litellm")["volumeMounts"]] == ["litellm-config", "litellm-tmp"]
    token = render_pod(provider(), {"oauth-token": b"sk-ant-oat01-abc"}, KEY)
    off = render_pod(provider(credentials={"secretName": "alice-login", "writeBack": False}), LOGIN, KEY)
    for no_write_back in (token, off):
        assert no_write_back["spec"]["automountServiceAccountToken"] is False
        assert "serviceAccountName" not in no_write_back["spec"]
        assert "api-access" not in {v["name"] for v in no_write_back["spec"]["volumes"]}
        assert "api-access" not in {m["name"] for c in no_write_back["spec"]["containers"] for m in c["volumeMounts"]}
    assert not any(e["name"].startswith("CLAUDE_LOGIN_SECRET") for e in container(token, "claude")["env"])


def test_write_back_access_allows_get_and_patch_on_the_login_secret_only() -> None:
    account, role, binding = render_write_back_access(provider(), ())
    assert (account["kind"], account["metadata"]["name"], account["automountServiceAccountToken"]) == (
        "ServiceAccount", "alice-claude-code", False,
    )  # fmt: skip
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["alice-login"], "verbs": ["get", "patch"]}
    ]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "alice-claude-code"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "alice-claude-code", "namespace": "team"}]
    for manifest in (account, role, binding):
        assert manifest["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_setup_token_login_mounts_the_token_under_the_runtime_file_name() -> None:
    p = provider(credentials={"secretName": "alice-login", "oauthTokenKey": "token"})
    pod = render_pod(p, {"token": b"sk-ant-oat01-abc"}, KEY)
    login = next(v for v in pod["spec"]["volumes"] if v["name"] == "login")
    assert login["secret"]["items"] == [{"key": "token", "path": "oauth-token"}]


def test_hash_changes_with_the_pod_but_not_with_the_login_or_operator_side_settings() -> None:
    """A new login is judged apart (login_facts.derive_pod_has_login): the pod's own write-back must not
    replace it."""
    base = pod_hash(render_pod(provider(), LOGIN, KEY))
    assert base
    assert pod_hash(render_pod(provider(), LOGIN, KEY)) == base, "rendering is deterministic"
    rotated = {**LOGIN, ".credentials.json": b'{"claudeAiOauth": {"accessToken": "sk-ant-oat01-y"}}'}
    assert pod_hash(render_pod(provider(), rotated, KEY)) == base
    digest = "claudecode.dev/login-digest"
    assert (
        render_pod(provider(), rotated, KEY)["metadata"]["annotations"][digest]
        != (render_pod(provider(), LOGIN, KEY)["metadata"]["annotations"][digest])
    )
    assert pod_hash(render_pod(provider(), {**LOGIN, "unrelated": b"x"}, KEY)) == base
    assert pod_hash(render_pod(provider(runtime={"image": "example/other:1"}), LOGIN, KEY)) != base
    assert pod_hash(render_pod(provider(admission={"maxInFlight": 8}), LOGIN, KEY)) != base
    assert pod_hash(render_pod(provider(probe={"intervalSeconds": 60}), LOGIN, KEY)) == base
    assert pod_hash(render_pod(provider(owner="Alice"), LOGIN, KEY)) == base
    assert pod_hash(render_pod(provider(service={"port": 8000}), LOGIN, KEY)) == base


def test_placement_reaches_the_pod() -> None:
    p = provider(
        placement={
            "nodeSelector": {"pool": "ai"},
            "tolerations": [{"key": "ai", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"x": 1}},
            "priorityClassName": "high",
            "imagePullSecrets": [{"name": "regcred"}],
            "labels": {"team": "ml", "claudecode.dev/provider": "spoof"},
            "annotations": {"note": "hi"},
        }
    )
    pod = render_pod(p, LOGIN, KEY)
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"pool": "ai"}
    assert spec["tolerations"] == [{"key": "ai", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["affinity"] == {"nodeAffinity": {"x": 1}}
    assert spec["priorityClassName"] == "high"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["metadata"]["labels"]["team"] == "ml"
    assert pod["metadata"]["labels"]["claudecode.dev/provider"] == "alice", "our labels win"
    assert pod["metadata"]["annotations"]["note"] == "hi"


def test_user_master_key_secret_is_used_and_not_generated() -> None:
    p = provider(masterKeySecret={"name": "shared-key", "key": "k"})
    assert env(container(render_pod(p, LOGIN, KEY), "litellm"))["LITELLM_MASTER_KEY"] == {
        "secretKeyRef": {"name": "shared-key", "key": "k"}
    }
    secret = render_keys_secret(p, {}, lambda key: f"new-{key}")
    assert secret is not None
    assert set(secret["data"]) == {"runtime-token", "login-fingerprint-key"}


def test_generated_keys_are_made_once_and_kept() -> None:
    p = provider()
    fresh = render_keys_secret(p, {}, lambda key: f"new-{key}")
    assert fresh is not None
    assert fresh["metadata"]["name"] == "alice-claude-code-keys"
    assert to_keys_values(fresh) == {
        "master-key": b"new-master-key",
        "runtime-token": b"new-runtime-token",
        "login-fingerprint-key": b"new-login-fingerprint-key",
    }
    complete = {"master-key": b"a", "runtime-token": b"b", "login-fingerprint-key": b"c"}
    assert render_keys_secret(p, complete, lambda key: "never") is None
    # A keys Secret from before the fingerprint key: completed, its values kept.
    partial = render_keys_secret(p, {"master-key": b"kept", "runtime-token": b"kept too"}, lambda key: f"new-{key}")
    assert partial is not None
    assert to_keys_values(partial) == {
        "master-key": b"kept",
        "runtime-token": b"kept too",
        "login-fingerprint-key": b"new-login-fingerprint-key",
    }


def test_litellm_config_routes_every_model_to_the_runtime() -> None:
    cm = render_config_map(provider(models={"fast": "haiku", "smart": "claude-opus-4-1"}))
    assert cm["metadata"]["name"] == "alice-litellm"
    config = yaml.safe_load(cm["data"]["config.yaml"])
    assert config["model_list"] == [
        {
            "model_name": "fast",
            "litellm_params": {
                "model": "claude-code/haiku",
                "api_base": "os.environ/CLAUDE_RUNTIME_URL",
                "allowed_openai_params": ["reasoning_effort", "thinking"],
            },
        },
        {
            "model_name": "smart",
            "litellm_params": {
                "model": "claude-code/claude-opus-4-1",
                "api_base": "os.environ/CLAUDE_RUNTIME_URL",
                "allowed_openai_params": ["reasoning_effort", "thinking"],
            },
        },
    ]
    assert config["router_settings"] == {"num_retries": 0, "disable_cooldowns": True}
    assert config["general_settings"] == {
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "custom_auth": "claude_code_provider.llm.proxy_auth.authenticate",
    }
    example = yaml.safe_load((REPO / "examples" / "litellm-config.yaml").read_text())
    assert config["general_settings"] == example["general_settings"]
    assert all(m["litellm_params"]["allowed_openai_params"] == list(REASONING_PARAMS) for m in example["model_list"])
    assert config["litellm_settings"]["custom_provider_map"] == example["litellm_settings"]["custom_provider_map"]


def test_service_serves_http_on_the_spec_port() -> None:
    svc = render_service(provider(service={"port": 8000}))
    assert svc["metadata"]["name"] == "alice"
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/instance": "alice", "claudecode.dev/provider": "alice"}


@pytest.mark.parametrize("allow", [[], [{"namespaceSelector": {"matchLabels": {"team": "ml"}}}]])
def test_network_policy_admits_only_allowed_clients_and_the_operator(allow: list[dict[str, Any]]) -> None:
    policy = render_network_policy(provider(allowFrom=allow), "ops", {"app": "op"})
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["podSelector"]["matchLabels"]["claudecode.dev/provider"] == "alice"
    operator_rule = {
        "from": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
                "podSelector": {"matchLabels": {"app": "op"}},
            }
        ],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    if allow:
        assert spec["ingress"] == [
            operator_rule,
            {
                "from": [{"namespaceSelector": {"matchLabels": {"team": "ml"}}}],
                "ports": [{"port": 4000, "protocol": "TCP"}],
            },
        ]
    else:
        assert spec["ingress"] == [operator_rule], "no allowFrom: nobody reaches port 4000"
    egress_ports = sorted((p["port"], p["protocol"]) for rule in spec["egress"] for p in rule["ports"])
    assert egress_ports == [(53, "TCP"), (53, "UDP"), (443, "TCP")]


def test_both_containers_get_default_requests_and_limits_and_the_spec_replaces_each_part() -> None:
    pod = render_pod(provider(), LOGIN, KEY)
    assert container(pod, "claude")["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"memory": "2Gi"},
    }
    assert container(pod, "litellm")["resources"] == {
        "requests": {"cpu": "50m", "memory": "384Mi"},
        "limits": {"memory": "1Gi"},
    }
    sized = render_pod(provider(litellm={"resources": {"limits": {"memory": "3Gi"}}}), LOGIN, KEY)
    assert container(sized, "litellm")["resources"] == {
        "requests": {"cpu": "50m", "memory": "384Mi"},
        "limits": {"memory": "3Gi"},
    }


#: The `default/kubernetes` EndpointSlice of a kubeadm cluster with two control-plane nodes (one draining).
KUBERNETES_SLICE = {
    "addressType": "IPv4",
    "endpoints": [
        {"addresses": ["10.0.0.12"], "conditions": {"ready": True}},
        {"addresses": ["10.0.0.11"], "conditions": {"ready": True}},
        {"addresses": ["10.0.0.13"], "conditions": {"ready": False}},
    ],
    "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
}


def test_the_api_server_endpoints_are_the_ready_addresses_and_ports_of_its_endpoint_slice() -> None:
    found = to_api_server_endpoints([KUBERNETES_SLICE])
    assert [(str(e.address), e.port) for e in found] == [("10.0.0.11", 6443), ("10.0.0.12", 6443)]
    v6 = {"endpoints": [{"addresses": ["fd00::1"]}], "ports": [{"port": 443}, {"port": 53, "protocol": "UDP"}]}
    assert [(str(e.address), e.port) for e in to_api_server_endpoints([v6])] == [("fd00::1", 443)]
    assert to_api_server_endpoints([{"endpoints": [{"addresses": ["api.example"]}], "ports": [{"port": 6443}]}]) == ()
    assert to_api_server_endpoints([]) == ()


def test_a_pod_that_writes_back_may_reach_the_api_server_at_its_real_addresses_only() -> None:
    endpoints = (ApiServerEndpoint(address="10.0.0.11", port=6443), ApiServerEndpoint(address="fd00::1", port=443))
    manifests = render_write_back_access(provider(), endpoints)
    assert [m["kind"] for m in manifests] == ["ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]
    policy = manifests[3]
    assert policy == render_write_back_egress(provider(), endpoints)
    assert policy["metadata"]["name"] == "alice-claude-code-api"
    assert policy["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "alice", "claudecode.dev/provider": "alice"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"ipBlock": {"cidr": "10.0.0.11/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]},
            {"to": [{"ipBlock": {"cidr": "fd00::1/128"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        ],
    }


OUTSIDE = [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.7/32"]}}]


def test_a_cluster_ip_service_is_always_allowed() -> None:
    assert derive_service_refusal(provider(), ()) is None
    assert derive_service_refusal(provider(service={"type": "ClusterIP"}), ()) is None


def test_another_service_type_needs_the_operators_setting_naming_it() -> None:
    refusal = derive_service_refusal(provider(service={"type": "LoadBalancer"}, allowFrom=OUTSIDE), ("NodePort",))
    assert refusal == (
        "spec.service.type LoadBalancer is not allowed by the operator's providerServiceTypes (chart value; "
        "--allow-service-type): it would publish this login outside the cluster. Use ClusterIP (the default), or "
        "ask the operator's administrator to allow it. No pod is started until then."
    )


def test_an_allowed_external_service_needs_ip_block_peers() -> None:
    pods_only = [{"podSelector": {"matchLabels": {"role": "client"}}}]
    refusal = derive_service_refusal(provider(service={"type": "NodePort"}, allowFrom=pods_only), ("NodePort",))
    assert refusal == (
        "spec.service.type NodePort reaches this login from outside the cluster: spec.allowFrom must name the "
        "clients allowed there by ipBlock (e.g. `- ipBlock: {cidr: 192.0.2.0/24}`). No pod is started until then."
    )
    allowed = provider(service={"type": "NodePort"}, allowFrom=OUTSIDE)
    assert derive_service_refusal(allowed, ("NodePort",)) is None
    assert render_service(allowed)["spec"]["type"] == "NodePort"
    ingress = render_network_policy(allowed, "ops", {"app": "op"})["spec"]["ingress"]
    assert ingress[1] == {"from": OUTSIDE, "ports": [{"port": 4000, "protocol": "TCP"}]}


def test_the_login_hashes_on_the_pod_are_keyed_by_the_resources_own_key() -> None:
    """Whoever may get pods cannot confirm a guessed token: without the key, the hashes say nothing."""
    token = b"sk-ant-oat01-guessable"
    annotations = render_pod(provider(), {"oauth-token": token}, KEY)["metadata"]["annotations"]
    digest, identity = annotations["claudecode.dev/login-digest"], annotations["claudecode.dev/login-identity"]
    assert len(digest) == len(identity) == 64
    bare = [hashlib.sha256(token).hexdigest(), hashlib.sha256(b"setup-token\0" + token + b"\0").hexdigest()]
    assert not {digest, identity} & {*bare, *(h[:16] for h in bare)}
    other = render_pod(provider(), {"oauth-token": token}, b"bob's key")["metadata"]["annotations"]
    assert other["claudecode.dev/login-digest"] != digest
    assert other["claudecode.dev/login-identity"] != identity
    again = render_pod(provider(), {"oauth-token": token}, KEY)["metadata"]["annotations"]
    assert again["claudecode.dev/login-digest"] == digest


def test_a_pod_rendered_with_another_key_does_not_count_as_running_the_login() -> None:
    data = {"oauth-token": b"sk-ant-oat01-abc"}
    facts = derive_login_facts(provider().spec.credentials, LoginSecret(data))
    assert derive_pod_has_login(render_pod(provider(), data, KEY), facts, KEY)
    assert not derive_pod_has_login(render_pod(provider(), data, b"another key"), facts, KEY)
