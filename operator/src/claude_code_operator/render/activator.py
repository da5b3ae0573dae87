"""What the operator writes for the activator while providers sleep (pure; `activator/` serves it).

- The routes ConfigMap in the operator's namespace: one port per sleeping or waking provider.
- An EndpointSlice in the provider's namespace, labelled for its Service: the Service keeps its name,
  port and selector, and while the provider has no pod its traffic reaches the activator's ready pods on
  the route's port (kube-proxy matches the slice's port to the Service's by name).
- A NetworkPolicy per route on the activator's pods: the route's port admits the provider's allowFrom
  clients only (the same peers as the provider pod's own policy, given the provider's namespace where
  they meant it), and a NetworkPolicy on the provider pod admitting the activator's pods on port 4000.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from .. import contract
from ..activator.routes import CONFIG_MAP_NAME, FIRST_PORT, LAST_PORT, ROUTES_KEY, Route, Routes, to_routes_json
from ..api.resource import Provider
from . import names
from .network import to_qualified_client_peers

#: The EndpointSlice label that keeps the EndpointSlice controller off a slice it did not make.
SLICE_MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
ACTIVATOR_APP = "claude-code-activator"


def derive_routes(previous: Routes, wanted: Mapping[tuple[str, str], str | None]) -> dict[int, Route]:
    """The routes of the providers in `wanted` ((namespace, name) -> the woken pod's `ip:port`, or None
    while it sleeps or wakes): a provider keeps the port it had, a new one gets the lowest free port from
    FIRST_PORT. A provider that is not wanted any more loses its route. ValueError when the ports run out."""
    kept = {port: route for port, route in previous.items() if route.provider in wanted}
    ports = {route.provider: port for port, route in kept.items()}
    free = (port for port in range(FIRST_PORT, LAST_PORT + 1) if port not in kept)
    routes: dict[int, Route] = {}
    for provider, target in sorted(wanted.items()):
        port = ports.get(provider)
        if port is None:
            port = next(free, None)
            if port is None:
                raise ValueError(f"no free activator port for {provider[0]}/{provider[1]}")
        routes[port] = Route(provider[0], provider[1], target)
    return dict(sorted(routes.items()))


def render_routes_config_map(routes: Routes, operator_namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIG_MAP_NAME,
            "namespace": operator_namespace,
            "labels": {"app.kubernetes.io/name": ACTIVATOR_APP, names.MANAGED_BY_LABEL: names.MANAGED_BY},
        },
        "data": {ROUTES_KEY: to_routes_json(routes)},
    }


def render_activator_endpoint_slice(provider: Provider, port: int, activator_ips: Iterable[str]) -> dict[str, Any]:
    """The provider's Service to the activator's ready pods (`activator_ips`, one address family: IPv6
    when every address is, else the IPv4 ones) on the route's `port`."""
    addresses = sorted({ipaddress.ip_address(ip) for ip in activator_ips}, key=lambda a: (a.version, int(a)))
    family = 6 if addresses and all(a.version == 6 for a in addresses) else 4
    service = names.service_name(provider.name)
    metadata = names.metadata(provider, names.activator_slice_name(provider.name))
    metadata["labels"] = {
        **names.labels(provider.name),
        "kubernetes.io/service-name": service,
        SLICE_MANAGED_BY_LABEL: names.MANAGED_BY,
    }
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": f"IPv{family}",
        # The Service's port name: kube-proxy sends the Service's port to this one.
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [str(a)], "conditions": {"ready": True}} for a in addresses if a.version == family],
    }


def render_activator_route_policy(
    provider: Provider, port: int, operator_namespace: str, activator_labels: Mapping[str, str]
) -> dict[str, Any]:
    """The activator's pods admit the route's port from the provider's allowFrom clients only (no
    allowFrom: nobody, as at the provider pod). Policies are a union: each route adds its own port."""
    ingress = (
        [{"from": peers, "ports": [{"port": port, "protocol": "TCP"}]}]
        if (peers := to_qualified_client_peers(provider))
        else []
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": names.activator_route_policy_name(port),
            "namespace": operator_namespace,
            "labels": {
                **names.labels(provider.name),
                names.PROVIDER_NAMESPACE_LABEL: provider.namespace,
            },
        },
        "spec": {
            "podSelector": {"matchLabels": dict(activator_labels)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def render_activator_ingress(
    provider: Provider, operator_namespace: str, activator_labels: Mapping[str, str]
) -> dict[str, Any]:
    """The provider pod admits the activator's pods on its LiteLLM port (added to its own policy)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": names.metadata(provider, names.activator_ingress_policy_name(provider.name)),
        "spec": {
            "podSelector": {"matchLabels": names.selector_labels(provider.name)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": operator_namespace}},
                            "podSelector": {"matchLabels": dict(activator_labels)},
                        }
                    ],
                    "ports": [{"port": contract.HTTP_PORT, "protocol": "TCP"}],
                }
            ],
        },
    }
