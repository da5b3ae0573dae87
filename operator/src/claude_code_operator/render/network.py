"""The Service in front of LiteLLM and the NetworkPolicy that limits who reaches the pod.

A subscription login serves its owner only: port 4000 admits the spec's allowFrom peers and nobody
else (no peers, no ingress); port 8080 (health, /auth/status) admits only the operator's pods.
Egress: DNS, and HTTPS for Anthropic. A pod that writes its login back may also reach the API server
at its real addresses and ports (`render_write_back_egress`): on Calico and Cilium egress is checked after
`kubernetes.default:443` is translated to them, and kubeadm, k3s, RKE2, kind and OpenShift listen on 6443.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from .. import contract
from ..api.resource import Provider
from ..config import ApiServerEndpoint
from . import names


def derive_service_refusal(provider: Provider, external_types: Collection[str]) -> str | None:
    """None for a ClusterIP Service; a NodePort or LoadBalancer one publishes a personal subscription
    beyond the cluster, so only where the operator allows that type and the spec names who may call it by
    ipBlock (where NetworkPolicy is enforced, nobody else outside reaches it). Else what to change."""
    kind = provider.spec.service.type
    if kind == "ClusterIP":
        return None
    if kind not in external_types:
        return (
            f"spec.service.type {kind} is not allowed by the operator's providerServiceTypes (chart value; "
            f"--allow-service-type): it would publish this login outside the cluster. Use ClusterIP (the "
            "default), or ask the operator's administrator to allow it. No pod is started until then."
        )
    if not any(peer.ip_block is not None for peer in provider.spec.allow_from):
        return (
            f"spec.service.type {kind} reaches this login from outside the cluster: spec.allowFrom must name "
            "the clients allowed there by ipBlock (e.g. `- ipBlock: {cidr: 192.0.2.0/24}`). No pod is started "
            "until then."
        )
    return None


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


def to_client_peers(provider: Provider) -> list[dict[str, Any]]:
    """The spec's allowFrom peers as NetworkPolicy peers, as written (in the provider's namespace's policy)."""
    return [peer.model_dump(exclude_none=True, exclude_defaults=True) for peer in provider.spec.allow_from]


def to_qualified_client_peers(provider: Provider) -> list[dict[str, Any]]:
    """The same peers for a policy in another namespace: a pod selector alone means the provider's
    namespace, so it is given that namespace; namespace selectors and IP blocks mean the same anywhere."""
    own_namespace = {"matchLabels": {"kubernetes.io/metadata.name": provider.namespace}}
    return [
        peer if "namespaceSelector" in peer or "ipBlock" in peer else {"namespaceSelector": own_namespace, **peer}
        for peer in to_client_peers(provider)
    ]


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
        ingress.append({"from": to_client_peers(provider), "ports": [{"port": contract.HTTP_PORT, "protocol": "TCP"}]})
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


def to_api_server_endpoints(slices: Iterable[Mapping[str, Any]]) -> tuple[ApiServerEndpoint, ...]:
    """The API server's addresses and TCP ports in the `default/kubernetes` EndpointSlices (as the API
    returns them), sorted; endpoints that are not ready and addresses that are not IPs are left out."""
    found: set[ApiServerEndpoint] = set()
    for endpoint_slice in slices:
        ports = [p.get("port") for p in endpoint_slice.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                for port in ports:
                    try:
                        found.add(ApiServerEndpoint(address=address, port=port))
                    except ValidationError:
                        continue
    return tuple(sorted(found, key=lambda e: (e.address.version, int(e.address), e.port)))


def render_write_back_egress(provider: Provider, api_server: Iterable[ApiServerEndpoint]) -> dict[str, Any]:
    """Egress from the provider's pod to the API server's real addresses and ports only (added to the
    pod's NetworkPolicy: policies are a union)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": names.metadata(provider, names.write_back_policy_name(provider.name)),
        "spec": {
            "podSelector": {"matchLabels": names.selector_labels(provider.name)},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": f"{e.address}/{e.address.max_prefixlen}"}}],
                    "ports": [{"port": e.port, "protocol": "TCP"}],
                }
                for e in api_server
            ],
        },
    }
