"""Renderers: a Provider -> the exact children the operator makes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_code_operator.api.resource import Provider
from claude_code_operator.render.access import render_write_back_access
from claude_code_operator.render.keys import render_keys_secret
from claude_code_operator.render.litellm import render_config_map
from claude_code_operator.render.network import render_network_policy, render_service
from claude_code_operator.render.pod import pod_hash, render_pod
from claude_code_provider.llm.reasoning import REASONING_PARAMS

REPO = Path(__file__).resolve().parents[2]
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
    pod = render_pod(provider(), LOGIN)
    meta = pod["metadata"]
    assert meta["name"] == "alice-claude-code"
    assert meta["namespace"] == "team"
    assert meta["labels"] == {
        "app.kubernetes.io/name": "claude-code-provider",
        "app.kubernetes.io/instance": "alice",
        "app.kubernetes.io/managed-by": "claude-code-operator",
        "claudecode.dev/provider": "alice",
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
    pod = render_pod(provider(), LOGIN)
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


def test_only_a_pod_that_writes_back_gets_a_service_account_token() -> None:
    oauth = render_pod(provider(), LOGIN)["spec"]
    assert (oauth["automountServiceAccountToken"], oauth["serviceAccountName"]) == (True, "alice-claude-code")
    token = render_pod(provider(), {"oauth-token": b"sk-ant-oat01-abc"})
    assert token["spec"]["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in token["spec"]
    assert not any(e["name"].startswith("CLAUDE_LOGIN_SECRET") for e in container(token, "claude")["env"])
    off = render_pod(provider(credentials={"secretName": "alice-login", "writeBack": False}), LOGIN)["spec"]
    assert off["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in off


def test_write_back_access_allows_get_and_patch_on_the_login_secret_only() -> None:
    account, role, binding = render_write_back_access(provider())
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
    pod = render_pod(p, {"token": b"sk-ant-oat01-abc"})
    login = next(v for v in pod["spec"]["volumes"] if v["name"] == "login")
    assert login["secret"]["items"] == [{"key": "token", "path": "oauth-token"}]


def test_hash_changes_with_the_pod_but_not_with_the_login_or_operator_side_settings() -> None:
    """A new login is judged apart (login_facts.derive_pod_has_login): the pod's own write-back must not
    replace it."""
    base = pod_hash(render_pod(provider(), LOGIN))
    assert base
    assert pod_hash(render_pod(provider(), LOGIN)) == base, "rendering is deterministic"
    rotated = {**LOGIN, ".credentials.json": b'{"claudeAiOauth": {"accessToken": "sk-ant-oat01-y"}}'}
    assert pod_hash(render_pod(provider(), rotated)) == base
    digest = "claudecode.dev/login-digest"
    assert (
        render_pod(provider(), rotated)["metadata"]["annotations"][digest]
        != (render_pod(provider(), LOGIN)["metadata"]["annotations"][digest])
    )
    assert pod_hash(render_pod(provider(), {**LOGIN, "unrelated": b"x"})) == base
    assert pod_hash(render_pod(provider(runtime={"image": "example/other:1"}), LOGIN)) != base
    assert pod_hash(render_pod(provider(admission={"maxInFlight": 8}), LOGIN)) != base
    assert pod_hash(render_pod(provider(probe={"intervalSeconds": 60}), LOGIN)) == base
    assert pod_hash(render_pod(provider(owner="Alice"), LOGIN)) == base
    assert pod_hash(render_pod(provider(service={"port": 8000}), LOGIN)) == base


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
    pod = render_pod(p, LOGIN)
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
    assert env(container(render_pod(p, LOGIN), "litellm"))["LITELLM_MASTER_KEY"] == {
        "secretKeyRef": {"name": "shared-key", "key": "k"}
    }
    secret = render_keys_secret(p, {}, lambda key: f"new-{key}")
    assert secret is not None
    assert set(secret["data"]) == {"runtime-token"}


def test_generated_keys_are_made_once_and_kept() -> None:
    p = provider()
    fresh = render_keys_secret(p, {}, lambda key: f"new-{key}")
    assert fresh is not None
    assert fresh["metadata"]["name"] == "alice-claude-code-keys"
    assert {k: base64.b64decode(v) for k, v in fresh["data"].items()} == {
        "master-key": b"new-master-key",
        "runtime-token": b"new-runtime-token",
    }
    assert render_keys_secret(p, {"master-key": b"a", "runtime-token": b"b"}, lambda key: "never") is None
    partial = render_keys_secret(p, {"master-key": b"kept"}, lambda key: f"new-{key}")
    assert partial is not None
    assert base64.b64decode(partial["data"]["master-key"]) == b"kept"


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
    svc = render_service(provider(service={"type": "NodePort", "port": 8000}))
    assert svc["metadata"]["name"] == "alice"
    assert svc["spec"]["type"] == "NodePort"
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
    pod = render_pod(provider(), LOGIN)
    assert container(pod, "claude")["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"memory": "2Gi"},
    }
    assert container(pod, "litellm")["resources"] == {
        "requests": {"cpu": "50m", "memory": "384Mi"},
        "limits": {"memory": "1Gi"},
    }
    sized = render_pod(provider(litellm={"resources": {"limits": {"memory": "3Gi"}}}), LOGIN)
    assert container(sized, "litellm")["resources"] == {
        "requests": {"cpu": "50m", "memory": "384Mi"},
        "limits": {"memory": "3Gi"},
    }
