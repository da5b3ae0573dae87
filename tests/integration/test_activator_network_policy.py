"""Who reaches the activator's route ports and what the activator reaches, asked of np-guard's analyzer
(`tests/network_analyzer.py`) with the policies the operator renders while providers sleep: a route's
port admits exactly the provider's allowFrom clients (a pod selector alone still means the provider's
namespace, though the activator runs in the operator's), and the provider pod admits the activator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from tests.integration.test_network_policy import (
    ALLOW_FROM,
    CLIENTS,
    ELSEWHERE,
    EVERYONE,
    OPERATOR_LABELS,
    OPERATOR_NS,
    TEAM,
    pod,
    provider,
    source,
    world,
)

from claude_code_devkit.network_analyzer import analyze, ingress_traffic
from claude_code_operator.api.resource import Provider
from claude_code_operator.render.activator import render_activator_ingress, render_activator_route_policy
from claude_code_operator.render.network import render_network_policy

ACTIVATOR = {"app.kubernetes.io/name": "claude-code-activator", "app.kubernetes.io/instance": "cco"}
ALICE_PORT, BOB_PORT = 20000, 20001


def bob() -> Provider:
    """Another sleeping provider, reached from the `clients` namespace's notebook pods only."""
    return Provider.from_body(
        {
            "metadata": {"name": "bob", "namespace": TEAM, "uid": "0000-2222", "generation": 1},
            "spec": {
                "credentials": {"secretName": "bob-login"},
                "allowFrom": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": CLIENTS}},
                        "podSelector": {"matchLabels": {"role": "notebook"}},
                    }
                ],
            },
        }
    )


def activator_world(alice: Provider) -> list[dict[str, Any]]:
    return [
        *world(alice),
        pod(OPERATOR_NS, "activator", **ACTIVATOR),
        pod(ELSEWHERE, "fake-activator", **ACTIVATOR),  # the activator's labels, not its namespace
        pod(CLIENTS, "notebook", role="notebook"),
    ]


def route_policies(alice: Provider) -> list[dict[str, Any]]:
    return [
        render_activator_route_policy(alice, ALICE_PORT, OPERATOR_NS, ACTIVATOR),
        render_activator_route_policy(bob(), BOB_PORT, OPERATOR_NS, ACTIVATOR),
    ]


def to_activator(name: str, rules: list[tuple[list[dict[str, Any]], int]]) -> dict[str, Any]:
    return ingress_traffic(name, OPERATOR_NS, ACTIVATOR, rules)


def assert_answer(
    query: Literal["permits", "forbids"],
    traffic: dict[str, Any],
    policies: list[dict[str, Any]],
    alice: Provider,
    tmp: Path,
) -> None:
    answer = analyze(query, traffic, policies, activator_world(alice), tmp)
    assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)


def test_a_route_port_admits_its_providers_clients_and_nobody_else(tmp_path: Path) -> None:
    alice = provider(ALLOW_FROM)
    policies = route_policies(alice)
    allowed = [
        ([source(TEAM, "client-a"), source(CLIENTS, "client-b")], ALICE_PORT),
        ([source(CLIENTS, "notebook")], BOB_PORT),
    ]
    assert_answer("permits", to_activator("must-pass", allowed), policies, alice, tmp_path)
    denied = [
        # role=client outside alice's namespace: her podSelector-only peer means her namespace
        ([source(ELSEWHERE, "stranger"), source(TEAM, "bystander"), source(OPERATOR_NS, "operator")], ALICE_PORT),
        ([{"ipBlock": {"cidr": "0.0.0.0/0"}}], ALICE_PORT),
        # each route's clients on the other's port
        ([source(TEAM, "client-a")], BOB_PORT),
        ([source(CLIENTS, "client-b"), source(TEAM, "bystander")], BOB_PORT),
        # any other port of the activator
        (EVERYONE, 20002),
    ]
    assert_answer("forbids", to_activator("must-not-pass", denied), policies, alice, tmp_path)


def test_a_provider_without_allow_from_has_a_route_nobody_reaches(tmp_path: Path) -> None:
    alice = provider([])
    assert_answer(
        "forbids", to_activator("must-not-pass", [(EVERYONE, ALICE_PORT)]), route_policies(alice), alice, tmp_path
    )


def test_the_provider_pod_admits_the_activator_on_its_api_port_only(tmp_path: Path) -> None:
    alice = provider(ALLOW_FROM)
    policies = [
        render_network_policy(alice, OPERATOR_NS, OPERATOR_LABELS),
        render_activator_ingress(alice, OPERATOR_NS, ACTIVATOR),
    ]
    to_pod = {"claudecode.dev/provider": alice.name}
    must_pass = ingress_traffic("must-pass", TEAM, to_pod, [([source(OPERATOR_NS, "activator")], 4000)])
    assert_answer("permits", must_pass, policies, alice, tmp_path)
    must_not = ingress_traffic(
        "must-not-pass",
        TEAM,
        to_pod,
        [([source(OPERATOR_NS, "activator")], 8080), ([source(ELSEWHERE, "fake-activator")], 4000)],
    )
    assert_answer("forbids", must_not, policies, alice, tmp_path)
