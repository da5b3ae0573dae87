"""What the operator writes for the activator while providers sleep: the routes (ports kept, new ones the
lowest free), the routes ConfigMap, the EndpointSlice that sends the provider's Service to the activator,
and the NetworkPolicies (who reaches a route's port is asked of the analyzer in
tests/integration/test_activator_network_policy.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claude_code_operator.activator.routes import Route, parse_routes
from claude_code_operator.api.resource import Provider
from claude_code_operator.render.activator import (
    derive_routes,
    render_activator_endpoint_slice,
    render_activator_ingress,
    render_activator_route_policy,
    render_routes_config_map,
)
from claude_code_operator.render.network import render_service

ACTIVATOR = {"app.kubernetes.io/name": "claude-code-activator", "app.kubernetes.io/instance": "cco"}
OWNER = {
    "apiVersion": "claudecode.dev/v1alpha1",
    "kind": "ClaudeCodeProvider",
    "name": "alice",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}
LABELS = {
    "app.kubernetes.io/name": "claude-code-provider",
    "app.kubernetes.io/managed-by": "claude-code-operator",
    "app.kubernetes.io/instance": "alice",
    "claudecode.dev/provider": "alice",
}


def provider(**spec: Any) -> Provider:
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 3},
        "spec": {"credentials": {"secretName": "alice-login"}, **spec},
    }
    return Provider.from_body(body)


def test_a_provider_keeps_its_port_and_a_new_one_gets_the_lowest_free_port() -> None:
    previous = {20000: Route("team", "alice"), 20001: Route("team", "bob"), 20002: Route("ml", "carol")}
    routes = derive_routes(previous, {("team", "bob"): "10.0.0.7:4000", ("ml", "carol"): None, ("ml", "dan"): None})
    assert routes == {
        20000: Route("ml", "dan"),
        20001: Route("team", "bob", "10.0.0.7:4000"),
        20002: Route("ml", "carol"),
    }
    assert derive_routes(routes, {}) == {}


def test_the_ports_running_out_is_an_error_naming_the_provider() -> None:
    full = {port: Route("team", f"p{port}") for port in range(20000, 65536)}
    with pytest.raises(ValueError, match="no free activator port for team/late"):
        derive_routes(full, {**{r.provider: None for r in full.values()}, ("team", "late"): None})


def test_the_routes_config_map_is_what_the_activator_reads() -> None:
    routes = {20000: Route("team", "alice"), 20001: Route("team", "bob", "10.0.0.7:4000")}
    config_map = render_routes_config_map(routes, "claude-code-operator")
    assert config_map["metadata"] == {
        "name": "claude-code-activator-routes",
        "namespace": "claude-code-operator",
        "labels": {
            "app.kubernetes.io/name": "claude-code-activator",
            "app.kubernetes.io/managed-by": "claude-code-operator",
        },
    }
    assert list(config_map["data"]) == ["routes.json"]
    assert parse_routes(config_map["data"]["routes.json"]) == routes
    assert json.loads(config_map["data"]["routes.json"])["20000"] == {
        "namespace": "team",
        "name": "alice",
        "target": None,
    }


def test_the_endpoint_slice_sends_the_services_port_to_the_ready_activator_pods() -> None:
    target = provider(service={"port": 8000})
    service = render_service(target)
    endpoint_slice = render_activator_endpoint_slice(target, 20003, ["10.1.0.9", "10.1.0.4", "fd00::9"])
    assert endpoint_slice == {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "alice-activator",
            "namespace": "team",
            "labels": {
                **LABELS,
                "kubernetes.io/service-name": "alice",
                "endpointslice.kubernetes.io/managed-by": "claude-code-operator",
            },
            "ownerReferences": [OWNER],
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 20003, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": ["10.1.0.4"], "conditions": {"ready": True}},
            {"addresses": ["10.1.0.9"], "conditions": {"ready": True}},
        ],
    }
    # kube-proxy matches the slice's port to the Service's by name; the Service itself is unchanged.
    assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == service["metadata"]["name"]
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    v6 = render_activator_endpoint_slice(target, 20003, ["fd00::9"])
    assert (v6["addressType"], v6["endpoints"]) == ("IPv6", [{"addresses": ["fd00::9"], "conditions": {"ready": True}}])
    assert render_activator_endpoint_slice(target, 20003, [])["endpoints"] == [], "no ready activator: no endpoint"


def test_a_route_port_admits_the_providers_clients_in_their_namespaces() -> None:
    allow = [
        {"podSelector": {"matchLabels": {"role": "client"}}},
        {"namespaceSelector": {"matchLabels": {"access": "claude"}}},
        {"namespaceSelector": {"matchLabels": {"team": "ml"}}, "podSelector": {"matchLabels": {"app": "nb"}}},
        {"ipBlock": {"cidr": "192.0.2.0/24"}},
    ]
    policy = render_activator_route_policy(provider(allowFrom=allow), 20003, "claude-code-operator", ACTIVATOR)
    assert policy == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "claude-code-activator-route-20003",
            "namespace": "claude-code-operator",
            "labels": {**LABELS, "claudecode.dev/provider-namespace": "team"},
        },
        "spec": {
            "podSelector": {"matchLabels": ACTIVATOR},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}},
                            "podSelector": {"matchLabels": {"role": "client"}},
                        },
                        {"namespaceSelector": {"matchLabels": {"access": "claude"}}},
                        {
                            "namespaceSelector": {"matchLabels": {"team": "ml"}},
                            "podSelector": {"matchLabels": {"app": "nb"}},
                        },
                        {"ipBlock": {"cidr": "192.0.2.0/24"}},
                    ],
                    "ports": [{"port": 20003, "protocol": "TCP"}],
                }
            ],
        },
    }
    nobody = render_activator_route_policy(provider(), 20003, "claude-code-operator", ACTIVATOR)
    assert nobody["spec"]["ingress"] == [], "no allowFrom: nobody reaches the route, as nobody reaches the pod"


def test_the_provider_pod_admits_the_activator_on_its_litellm_port() -> None:
    assert render_activator_ingress(provider(), "claude-code-operator", ACTIVATOR) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "alice-claude-code-activator",
            "namespace": "team",
            "labels": LABELS,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "alice", "claudecode.dev/provider": "alice"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "claude-code-operator"}
                            },
                            "podSelector": {"matchLabels": ACTIVATOR},
                        }
                    ],
                    "ports": [{"port": 4000, "protocol": "TCP"}],
                }
            ],
        },
    }
