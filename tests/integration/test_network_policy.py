"""Who can reach a provider pod: the operator-rendered NetworkPolicy, evaluated by np-guard's analyzer.

Nothing enforces NetworkPolicy on the test cluster, so the policy the operator renders is handed, with a
small world of namespaces and pods, to network-config-analyzer (`claude_code_devkit.network_analyzer`). The
write-back pod's egress to the API server is asked of the policies rendered from a kubeadm cluster's
`default/kubernetes` EndpointSlice (the API server on 6443 behind `kubernetes.default:443`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest

from claude_code_devkit.network_analyzer import analyze, egress_traffic, ingress_traffic
from claude_code_operator.api.resource import Provider
from claude_code_operator.render.network import (
    render_network_policy,
    render_write_back_egress,
    to_api_server_endpoints,
)
from claude_code_operator.render.pod import render_pod

TEAM, CLIENTS, OPERATOR_NS, ELSEWHERE = "team", "clients", "claude-code-operator", "elsewhere"
OPERATOR_LABELS = {"app.kubernetes.io/name": "claude-code-operator", "app.kubernetes.io/instance": "cco"}
WHO = "test.claudecode.dev/who"
ALLOW_FROM = [
    {"podSelector": {"matchLabels": {"role": "client"}}},
    {"namespaceSelector": {"matchLabels": {"access": "claude"}}},
]


def provider(allow_from: list[dict[str, Any]]) -> Provider:
    return Provider.from_body(
        {
            "metadata": {"name": "alice", "namespace": TEAM, "uid": "0000-1111", "generation": 1},
            "spec": {"credentials": {"secretName": "alice-login"}, "allowFrom": allow_from},
        }
    )


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
    }


def pod(ns: str, who: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": who, "namespace": ns, "labels": {WHO: who, **labels}},
        "spec": {"containers": [{"name": "main", "image": "example.invalid/client"}]},
    }


def world(target: Provider) -> list[dict[str, Any]]:
    """Namespaces and pods around the provider pod: the operator, clients, look-alikes."""
    provider_pod = render_pod(target, {"oauth-token": b"sk-ant-oat01-not-used"}, b"fingerprint-key")
    return [
        namespace(TEAM),
        namespace(CLIENTS, access="claude"),
        namespace(OPERATOR_NS),
        namespace(ELSEWHERE),
        {"apiVersion": "v1", "kind": "Pod", "metadata": provider_pod["metadata"], "spec": provider_pod["spec"]},
        pod(OPERATOR_NS, "operator", **OPERATOR_LABELS),
        pod(OPERATOR_NS, "ops-other"),  # the operator's namespace, not its labels
        pod(ELSEWHERE, "impostor", **OPERATOR_LABELS),  # the operator's labels, not its namespace
        pod(TEAM, "client-a", role="client"),
        pod(TEAM, "bystander"),
        pod(CLIENTS, "client-b"),
        pod(ELSEWHERE, "stranger", role="client"),  # podSelector-only peers mean the provider's namespace
    ]


def source(ns: str, who: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
        "podSelector": {"matchLabels": {WHO: who}},
    }


EVERYONE = [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}]


def traffic(name: str, target: Provider, rules: list[tuple[list[dict[str, Any]], int]]) -> dict[str, Any]:
    """Connections to the provider pod, written as a policy: (sources, TCP port) per rule."""
    return ingress_traffic(name, TEAM, {"claudecode.dev/provider": target.name}, rules)


def nca(
    query: Literal["permits", "forbids"],
    traffic_policy: dict[str, Any],
    target: Provider,
    tmp_path: Path,
    extra: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run `nca --<query>` of the traffic against the rendered policy (and `extra` ones); returns its JSON answer."""
    policy = render_network_policy(target, OPERATOR_NS, OPERATOR_LABELS)
    return analyze(query, traffic_policy, [policy, *(extra or [])], world(target), tmp_path)


def from_provider(name: str, target: Provider, rules: list[tuple[str, int]]) -> dict[str, Any]:
    return egress_traffic(name, TEAM, {"claudecode.dev/provider": target.name}, rules)


def assert_permits(target: Provider, rules: list[tuple[list[dict[str, Any]], int]], tmp_path: Path) -> None:
    answer = nca("permits", traffic("must-pass", target, rules), target, tmp_path)
    assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)


def assert_forbids(target: Provider, rules: list[tuple[list[dict[str, Any]], int]], tmp_path: Path) -> None:
    answer = nca("forbids", traffic("must-not-pass", target, rules), target, tmp_path)
    assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)


def test_the_operator_probes_and_the_allowed_clients_call_nobody_else(tmp_path: Path) -> None:
    target = provider(ALLOW_FROM)
    assert_permits(
        target,
        [
            ([source(OPERATOR_NS, "operator")], 8080),
            ([source(TEAM, "client-a"), source(CLIENTS, "client-b")], 4000),
        ],
        tmp_path,
    )
    assert_forbids(
        target,
        [
            # look-alikes of the operator, and the clients, on the health and auth-status port
            (
                [
                    source(ELSEWHERE, "impostor"),
                    source(OPERATOR_NS, "ops-other"),
                    source(TEAM, "bystander"),
                    source(TEAM, "client-a"),
                    source(CLIENTS, "client-b"),
                    {"ipBlock": {"cidr": "0.0.0.0/0"}},
                ],
                8080,
            ),
            # everyone not in allowFrom on the API port, the operator included
            (
                [
                    source(TEAM, "bystander"),
                    source(ELSEWHERE, "stranger"),
                    source(ELSEWHERE, "impostor"),
                    source(OPERATOR_NS, "operator"),
                    {"ipBlock": {"cidr": "0.0.0.0/0"}},
                ],
                4000,
            ),
            # the runtime's completion API and any other port, from anyone
            (EVERYONE, 8081),
            ([source(TEAM, "client-a"), source(OPERATOR_NS, "operator")], 22),
        ],
        tmp_path,
    )


def test_without_allow_from_nobody_reaches_the_api(tmp_path: Path) -> None:
    target = provider([])
    assert_permits(target, [([source(OPERATOR_NS, "operator")], 8080)], tmp_path)
    assert_forbids(target, [(EVERYONE, 4000), (EVERYONE, 8081)], tmp_path)


@pytest.mark.parametrize("query", ["permits", "forbids"])
def test_the_analyzer_is_not_vacuous(query: Literal["permits", "forbids"], tmp_path: Path) -> None:
    """The same questions with the opposite expectation fail: nca does see these pods and ports."""
    target = provider(ALLOW_FROM)
    rules = [([source(TEAM, "bystander")], 4000)] if query == "permits" else [([source(TEAM, "client-a")], 4000)]
    answer = nca(query, traffic("opposite", target, rules), target, tmp_path)
    assert answer["numerical_result"] == 1, json.dumps(answer, indent=1)


#: The `default/kubernetes` EndpointSlice of a kubeadm cluster: two API servers on 6443, whose Service
#: `kubernetes.default` is 10.96.0.1:443.
KUBEADM_SLICE = {
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.11"]}, {"addresses": ["10.0.0.12"]}],
    "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
}
#: What a pod must not reach however it writes back: etcd and the kubelet on an API server's node, another
#: host's 6443, a private range.
NOT_THE_API_SERVER = [("10.0.0.11/32", 2379), ("10.0.0.11/32", 10250), ("10.0.0.13/32", 6443), ("192.168.0.0/16", 6443)]


def test_a_pod_that_writes_back_reaches_the_api_server_at_its_real_address_and_port(tmp_path: Path) -> None:
    target = provider([])
    write_back = [render_write_back_egress(target, to_api_server_endpoints([KUBEADM_SLICE]))]
    must_pass = [("10.0.0.11/32", 6443), ("10.0.0.12/32", 6443), ("10.96.0.1/32", 443)]
    answer = nca("permits", from_provider("must-pass", target, must_pass), target, tmp_path, write_back)
    assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)
    answer = nca("forbids", from_provider("must-not-pass", target, NOT_THE_API_SERVER), target, tmp_path, write_back)
    assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)


def test_without_the_write_back_policy_the_api_servers_real_port_is_closed(tmp_path: Path) -> None:
    """What the analyzer says of the pod's own policy alone: 6443 is not reached (the write-back failure
    of Calico and Cilium), so the rule above is what opens it."""
    target = provider([])
    answer = nca("forbids", from_provider("must-not-pass", target, [("10.0.0.11/32", 6443)]), target, tmp_path)
    assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)
