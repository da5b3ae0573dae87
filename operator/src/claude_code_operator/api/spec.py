"""The ClaudeCodeProvider spec: the CRD's source of truth (parsed once at the edge, typed inside).

Field names are camelCase on the wire (aliases) and snake_case in Python. Validation that the API
server must enforce lives in the JSON schema (bounds, patterns) and in CEL rules (`_rules`), whose
messages name the field so `kubectl apply` tells the user what to fix.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "claudecode.dev"
VERSION = "v1alpha1"
KIND = "ClaudeCodeProvider"
PLURAL = "claudecodeproviders"
SINGULAR = "claudecodeprovider"
SHORT_NAMES = ("ccp",)

DEFAULT_IMAGE_REPOSITORY = "ghcr.io/claude-code-operator/claude-code-provider"
DEFAULT_IMAGE = f"{DEFAULT_IMAGE_REPOSITORY}:0.1.0"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"


ModelName = Annotated[str, Field(min_length=1, max_length=128, pattern=MODEL_NAME)]


def _rules(*rules: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """CEL validations (`x-kubernetes-validations`): (rule, message[, fieldPath])."""
    out = []
    for rule in rules:
        entry = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            entry["fieldPath"] = rule[2]
        out.append(entry)
    return {"x-kubernetes-validations": out}


class Model(BaseModel):
    """Wire names are camelCase; unknown fields are errors (the CRD's strict validation agrees)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, serialize_by_alias=True
    )


class Credentials(Model):
    """The user's Secret holding one Claude Code login, and the names of its keys."""

    secret_name: str = Field(
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="Secret in the same namespace"
    )
    credentials_key: str = Field(
        default=".credentials.json", min_length=1, max_length=253, pattern=SECRET_KEY,
        description="key holding ~/.claude/.credentials.json (a `claude auth login`)",
    )  # fmt: skip
    claude_json_key: str = Field(
        default=".claude.json", min_length=1, max_length=253, pattern=SECRET_KEY,
        description="key holding ~/.claude.json (optional account state)",
    )  # fmt: skip
    oauth_token_key: str = Field(
        default="oauth-token", min_length=1, max_length=253, pattern=SECRET_KEY,
        description="key holding a `claude setup-token` token",
    )  # fmt: skip
    write_back: bool | None = Field(
        default=None,
        description="let the pod write refreshed logins back to this Secret (a ServiceAccount allowed to get and "
        "patch it alone); default: on for `.credentials.json` logins, off for setup-token logins",
    )
    expiry_warning_hours: int = Field(
        default=168, ge=1, le=8760,
        description="LoginExpiring turns True this long before a login that is not refreshed expires",
    )  # fmt: skip


class Resources(Model):
    requests: dict[str, str] = Field(default_factory=dict, description="cpu, memory, ... quantities")
    limits: dict[str, str] = Field(default_factory=dict)


class Container(Model):
    image: str = Field(default=DEFAULT_IMAGE, min_length=1, max_length=512)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    resources: Resources = Field(default_factory=Resources)


class SecretKeyRef(Model):
    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field(default="master-key", min_length=1, max_length=253, pattern=SECRET_KEY)


class Service(Model):
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="ClusterIP",
        description="ClusterIP; NodePort or LoadBalancer only where the operator allows it (chart value "
        "providerServiceTypes) and spec.allowFrom names the outside clients by ipBlock",
    )
    port: int = Field(default=4000, ge=1, le=65535)


class LabelSelectorRequirement(Model):
    key: str = Field(min_length=1, max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list, max_length=64)


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=16)


class IPBlock(Model):
    cidr: str = Field(min_length=1, max_length=64, description="clients outside the cluster, e.g. 192.0.2.0/24")
    except_: list[str] = Field(default_factory=list, max_length=32, alias="except")


class Peer(Model):
    """Clients allowed to call the endpoint: pods matching podSelector in namespaces matching
    namespaceSelector (either alone as in a NetworkPolicy peer), or addresses in an ipBlock (alone)."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "has(self.ipBlock) ? !has(self.namespaceSelector) && !has(self.podSelector) : "
                "(has(self.namespaceSelector) || has(self.podSelector))",
                "spec.allowFrom entries need a namespaceSelector, a podSelector or both, or an ipBlock alone",
            )
        )
    )

    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class Probe(Model):
    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "self.timeoutSeconds < self.intervalSeconds",
                "spec.probe.timeoutSeconds must be shorter than spec.probe.intervalSeconds",
                ".timeoutSeconds",
            )
        )
    )

    interval_seconds: int = Field(default=30, ge=5, le=3600, description="between two /auth/status reads")
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    failure_threshold: int = Field(default=3, ge=1, le=20, description="failed reads before Authenticated=Unknown")


class Quota(Model):
    warn_percent: int | None = Field(
        default=None, ge=1, le=100,
        description="QuotaLow turns True when a usage window of the plan is this much used (percent); "
        "default: the operator's (chart value quota.warnPercent, 80)",
    )  # fmt: skip


class Admission(Model):
    """The runtime's admission limits (CLAUDE_RUNTIME_MAX_IN_FLIGHT, _MAX_QUEUED, _QUEUE_TIMEOUT)."""

    max_in_flight: int = Field(default=4, ge=1, le=64)
    max_queued: int = Field(default=16, ge=0, le=1024)
    queue_timeout_seconds: int = Field(default=30, ge=1, le=3600)


class Idle(Model):
    sleep_after_seconds: int | None = Field(
        default=None, ge=0, le=30 * 86400,
        description="remove the pod after this long without a request (status Asleep; a request through the "
        "endpoint, or the annotation claudecode.dev/wake-requested-at, brings it back); 0: never. Unset: never, "
        "unless the operator gives new resources a default (chart value idle.sleepAfterSeconds)",
        json_schema_extra=_rules(
            ("self == 0 || self >= 5", "spec.idle.sleepAfterSeconds must be 0 (never) or at least 5")
        ),
    )  # fmt: skip


class Toleration(Model):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class LocalObjectReference(Model):
    name: str = Field(min_length=1, max_length=253)


class Placement(Model):
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list, max_length=32)
    affinity: dict[str, Any] | None = Field(
        default=None,
        description="a core/v1 Affinity, passed through unchanged",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    priority_class_name: str | None = Field(default=None, max_length=253)
    image_pull_secrets: list[LocalObjectReference] = Field(default_factory=list, max_length=16)
    labels: dict[str, str] = Field(default_factory=dict, description="extra pod labels")
    annotations: dict[str, str] = Field(default_factory=dict, description="extra pod annotations")


def _default_models() -> dict[str, str]:
    return {"sonnet": "sonnet", "opus": "opus", "haiku": "haiku"}


class ClaudeCodeProviderSpec(Model):
    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "!has(self.masterKeySecret) || self.masterKeySecret.name != self.credentials.secretName",
                "spec.masterKeySecret.name must not be the login Secret (spec.credentials.secretName)",
                ".masterKeySecret.name",
            )
        )
    )

    credentials: Credentials
    owner: str | None = Field(default=None, max_length=253, description="whose login this is (status, Events)")
    models: dict[str, ModelName] = Field(
        default_factory=_default_models,
        min_length=1,
        max_length=32,
        description="exposed model name -> Claude model (alias or full name)",
        json_schema_extra=_rules(
            (
                f"self.all(k, k.matches('{MODEL_NAME}') && size(k) <= 128)",
                "spec.models keys must be model names (letters, digits, . _ : / -; at most 128 characters)",
            ),
        ),
    )
    runtime: Container = Field(default_factory=Container, description="the `claude` container")
    litellm: Container = Field(default_factory=Container, description="the LiteLLM sidecar")
    master_key_secret: SecretKeyRef | None = Field(
        default=None, description="LiteLLM master key; generated and owned when absent"
    )
    service: Service = Field(default_factory=Service)
    allow_from: list[Peer] = Field(
        default_factory=list, max_length=32, description="who may call the endpoint (NetworkPolicy); none by default"
    )
    probe: Probe = Field(default_factory=Probe)
    quota: Quota = Field(default_factory=Quota)
    admission: Admission = Field(default_factory=Admission)
    placement: Placement = Field(default_factory=Placement)
    suspend: bool = Field(default=False, description="remove the pod and keep everything else")
    idle: Idle = Field(default_factory=Idle, description="what an idle provider does: it may sleep (no pod)")
