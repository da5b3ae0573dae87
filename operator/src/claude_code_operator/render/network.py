"""The Service in front of LiteLLM and the NetworkPolicy that limits who reaches the pod.

A subscription login serves its owner only: port 4000 admits the spec's allowFrom peers and nobody
else (no peers, no ingress); port 8080 (health, /auth/status) admits only the operator's pods.
Egress: DNS, and HTTPS for Anthropic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import contract
from ..api.resource import Provider
from . import names


def render_service(provider: Provider) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": names.metadata(provider, names.service_name(provider.name)),
        "spec": {
            "type": provider.spec.service.type,
            "selector": names.selector_labels(provider.name),
            "ports": [{"name": "http", "port": provider.spec.service.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def render_network_policy(
    provider: Provider, operator_namespace: str, operator_labels: Mapping[str, str]
) -> dict[str, Any]:
    ingress: list[dict[str, Any]] = [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": operator_namespace}},
                    "podSelector": {"matchLabels": dict(operator_labels)},
                }
            ],
            "ports": [{"port": contract.HEALTH_PORT, "protocol": "TCP"}],
        }
    ]
    if provider.spec.allow_from:
        ingress.append(
            {
                "from": [p.model_dump(exclude_none=True, exclude_defaults=True) for p in provider.spec.allow_from],
                "ports": [{"port": contract.HTTP_PORT, "protocol": "TCP"}],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": names.metadata(provider, names.network_policy_name(provider.name)),
        "spec": {
            "podSelector": {"matchLabels": names.selector_labels(provider.name)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {"ports": [{"port": 443, "protocol": "TCP"}]},
            ],
        },
    }
