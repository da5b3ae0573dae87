"""The provider pod: the runtime holding the login, and the LiteLLM sidecar (what the runtime reads of
it is named in `contract`).

Restricted Pod Security throughout. The pod carries a hash of everything in its spec whose change must
replace it, and the login it started with (`login_facts`), which the reconciler compares apart: a
Secret change the pod wrote itself does not replace it. With write-back on, the pod runs as its own
ServiceAccount and the runtime is told which Secret and keys to write; its API token is a projected volume
mounted in the `claude` container alone (the pod never automounts one), so the network-facing sidecar
holds no credential that may read the login.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .. import contract
from ..api.resource import Provider
from ..api.spec import Container, Resources
from ..config import PodDefaults
from ..login_facts import LoginFacts, LoginSecret, derive_login_facts, render_pod_login_annotations
from . import names

_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
DEFAULT_POD_DEFAULTS = PodDefaults()
RUN_AS_USER = 10001  # the provider image's user
LITELLM_COMMAND = [
    *("litellm", "--config", f"{names.LITELLM_CONFIG_DIR}/config.yaml"),
    *("--host", "0.0.0.0", "--port", str(contract.HTTP_PORT)),
]


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _http_probe(path: str, port: str, period: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }


def _empty_dir(name: str) -> dict[str, Any]:
    return {"name": name, "emptyDir": {}}


def _resources(container: Container, default: Resources) -> dict[str, Any]:
    """The spec's requests and limits, each where it sets them, else the operator's defaults."""
    out: dict[str, Any] = {}
    requests = container.resources.requests or default.requests
    limits = container.resources.limits or default.limits
    if requests:
        out["requests"] = dict(requests)
    if limits:
        out["limits"] = dict(limits)
    return out


def login_items(provider: Provider, present_keys: set[str]) -> list[dict[str, str]]:
    """The Secret volume's items: the spec's keys that exist, under the file names the runtime reads.
    Items naming an absent key would keep the pod from starting."""
    creds = provider.spec.credentials
    wanted = [
        (creds.credentials_key, contract.CREDENTIALS_FILE),
        (creds.claude_json_key, contract.CLAUDE_JSON_FILE),
        (creds.oauth_token_key, contract.OAUTH_TOKEN_FILE),
    ]
    return [{"key": key, "path": path} for key, path in wanted if key in present_keys]


def master_key_ref(provider: Provider) -> tuple[str, str]:
    given = provider.spec.master_key_secret
    if given is not None:
        return given.name, given.key
    return names.keys_secret_name(provider.name), contract.MASTER_KEY_KEY


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _write_back_env(provider: Provider) -> list[dict[str, Any]]:
    """What the runtime's write-back needs (claude_code_provider.runtime.writeback)."""
    creds = provider.spec.credentials
    return [
        {"name": contract.ENV_LOGIN_SECRET, "value": creds.secret_name},
        _field_env(contract.ENV_LOGIN_SECRET_NAMESPACE, "metadata.namespace"),
        {"name": contract.ENV_LOGIN_CREDENTIALS_KEY, "value": creds.credentials_key},
        {"name": contract.ENV_LOGIN_CLAUDE_JSON_KEY, "value": creds.claude_json_key},
        _field_env(contract.ENV_POD_UID, "metadata.uid"),
    ]


def _api_access_volume() -> dict[str, Any]:
    """What a kubelet mounts for an automounted token (a bound, rotating token, the cluster's CA and the
    namespace), as a volume that only the container mounting it sees."""
    return {
        "name": names.API_ACCESS_VOLUME,
        "projected": {
            "defaultMode": 0o400,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": names.API_TOKEN_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def _claude_container(provider: Provider, write_back: bool, defaults: PodDefaults) -> dict[str, Any]:
    spec = provider.spec
    keys = names.keys_secret_name(provider.name)
    return {
        "name": names.CLAUDE_CONTAINER,
        "image": spec.runtime.image,
        "imagePullPolicy": spec.runtime.image_pull_policy,
        "command": ["claude-code-runtime"],
        "env": [
            {"name": contract.ENV_LOGIN_DIR, "value": names.LOGIN_DIR},
            {"name": contract.ENV_CONFIG_DIR, "value": names.CONFIG_DIR},
            {"name": "HOME", "value": names.HOME_DIR},
            {"name": "TMPDIR", "value": "/tmp"},
            _secret_env(contract.ENV_RUNTIME_TOKEN, keys, contract.RUNTIME_TOKEN_KEY),
            {"name": contract.ENV_MAX_IN_FLIGHT, "value": str(spec.admission.max_in_flight)},
            {"name": contract.ENV_MAX_QUEUED, "value": str(spec.admission.max_queued)},
            {"name": contract.ENV_QUEUE_TIMEOUT, "value": str(spec.admission.queue_timeout_seconds)},
            *(_write_back_env(provider) if write_back else []),
        ],
        "ports": [{"name": "health", "containerPort": contract.HEALTH_PORT, "protocol": "TCP"}],
        "livenessProbe": _http_probe("/healthz", "health", period=10),
        "readinessProbe": _http_probe("/readyz", "health", period=5),
        "resources": _resources(spec.runtime, defaults.runtime),
        "securityContext": _SECURITY_CONTEXT,
        "volumeMounts": [
            {"name": "login", "mountPath": names.LOGIN_DIR, "readOnly": True},
            {"name": "claude-config", "mountPath": names.CONFIG_DIR},
            {"name": "claude-home", "mountPath": names.HOME_DIR},
            {"name": "claude-tmp", "mountPath": "/tmp"},
            *(
                [{"name": names.API_ACCESS_VOLUME, "mountPath": names.API_ACCESS_DIR, "readOnly": True}]
                if write_back
                else []
            ),
        ],
    }


def _litellm_container(provider: Provider, defaults: PodDefaults) -> dict[str, Any]:
    spec = provider.spec
    master_secret, master_key = master_key_ref(provider)
    return {
        "name": names.LITELLM_CONTAINER,
        "image": spec.litellm.image,
        "imagePullPolicy": spec.litellm.image_pull_policy,
        "command": LITELLM_COMMAND,
        "env": [
            _secret_env("LITELLM_MASTER_KEY", master_secret, master_key),
            _secret_env(contract.ENV_RUNTIME_TOKEN, names.keys_secret_name(provider.name), contract.RUNTIME_TOKEN_KEY),
            {"name": contract.ENV_RUNTIME_URL, "value": contract.RUNTIME_API_URL},
            {"name": "LITELLM_LOCAL_MODEL_COST_MAP", "value": "True"},
            {"name": "HOME", "value": "/tmp"},
            {"name": "TMPDIR", "value": "/tmp"},
        ],
        "ports": [{"name": "http", "containerPort": contract.HTTP_PORT, "protocol": "TCP"}],
        "livenessProbe": _http_probe("/health/liveliness", "http", period=10),
        "readinessProbe": _http_probe("/health/readiness", "http", period=5),
        "resources": _resources(spec.litellm, defaults.litellm),
        "securityContext": _SECURITY_CONTEXT,
        "volumeMounts": [
            {"name": "litellm-config", "mountPath": names.LITELLM_CONFIG_DIR, "readOnly": True},
            {"name": "litellm-tmp", "mountPath": "/tmp"},
        ],
    }


def _pod_without_hash(
    provider: Provider, present_keys: set[str], write_back: bool, defaults: PodDefaults
) -> dict[str, Any]:
    placement = provider.spec.placement
    spec: dict[str, Any] = {
        # Never for the whole pod: the write-back token is mounted in the `claude` container alone.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_claude_container(provider, write_back, defaults), _litellm_container(provider, defaults)],
        "volumes": [
            {
                "name": "login",
                "secret": {
                    "secretName": provider.spec.credentials.secret_name,
                    "items": login_items(provider, present_keys),
                    "defaultMode": 0o400,
                },
            },
            _empty_dir("claude-config"),
            _empty_dir("claude-home"),
            _empty_dir("claude-tmp"),
            {"name": "litellm-config", "configMap": {"name": names.config_map_name(provider.name)}},
            _empty_dir("litellm-tmp"),
        ],
    }
    if write_back:
        spec["serviceAccountName"] = names.service_account_name(provider.name)
        spec["volumes"].append(_api_access_volume())
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        spec["tolerations"] = [t.model_dump(exclude_none=True) for t in placement.tolerations]
    if placement.affinity:
        spec["affinity"] = placement.affinity
    if placement.priority_class_name:
        spec["priorityClassName"] = placement.priority_class_name
    if placement.image_pull_secrets:
        spec["imagePullSecrets"] = [r.model_dump() for r in placement.image_pull_secrets]
    meta: dict[str, Any] = names.metadata(provider, names.pod_name(provider.name))
    meta["labels"] = {
        **placement.labels,
        **names.labels(provider.name),
        names.LOGIN_SECRET_LABEL: names.login_label(provider.spec.credentials.secret_name),
    }
    meta["annotations"] = dict(placement.annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def render_pod(
    provider: Provider,
    secret_data: Mapping[str, bytes],
    fingerprint_key: bytes,
    login: LoginFacts | None = None,
    defaults: PodDefaults = DEFAULT_POD_DEFAULTS,
    keys_digest: str | None = None,
) -> dict[str, Any]:
    """The pod for a login whose Secret holds `secret_data` (already validated); `fingerprint_key`: the
    resource's key for the login's hashes on the pod; `login`: its facts, when already derived with the
    Secret's annotations; `defaults`: resources where the spec sets none."""
    if login is None:
        login = derive_login_facts(provider.spec.credentials, LoginSecret(secret_data))
    pod = _pod_without_hash(provider, set(secret_data), login.write_back, defaults)
    material = json.dumps(pod, sort_keys=True)
    annotations = pod["metadata"]["annotations"]
    annotations[names.SPEC_HASH_ANNOTATION] = hashlib.sha256(material.encode()).hexdigest()[:32]
    annotations.update(render_pod_login_annotations(login, fingerprint_key))
    if keys_digest is not None:
        annotations[names.KEYS_DIGEST_ANNOTATION] = keys_digest
    annotations[names.INPUT_HASH_ANNOTATION] = render_input_hash(provider, secret_data, login)
    return pod


def render_input_hash(provider: Provider, secret_data: Mapping[str, bytes], login: LoginFacts) -> str:
    """What the pod is rendered from, apart from the operator itself (its version and settings)."""
    # spec.quota and spec.idle are the operator's alone (the QuotaLow threshold, when the pod sleeps): left
    # out, the pod is not rendered from them, and the hash stays what operators before them computed.
    spec = provider.spec.model_dump(mode="json", exclude={"quota", "idle"})
    material = json.dumps([spec, sorted(secret_data), login.write_back])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def pod_hash(pod: Mapping[str, Any]) -> str | None:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(names.SPEC_HASH_ANNOTATION)
    return value if isinstance(value, str) else None
