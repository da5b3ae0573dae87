"""np-guard's network-config-analyzer (`nca`, installed by `make install` into .venv/nca), for the tests
that ask what a set of NetworkPolicies admits. Nothing enforces NetworkPolicy on the test cluster.

Traffic is written as a NetworkPolicy: `permits` asks whether the base policies admit every connection
it names, `forbids` whether they admit none of them. The world is the namespaces and pods to judge.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Literal

import yaml

from claude_code_devkit.paths import REPO

NCA = REPO / ".venv" / "nca" / "bin" / "nca"


def analyze(
    query: Literal["permits", "forbids"],
    traffic: dict[str, Any],
    policies: list[dict[str, Any]],
    world: list[dict[str, Any]],
    workdir: Path,
) -> dict[str, Any]:
    """Run `nca --<query>` of `traffic` against `policies` in `world`; returns its JSON answer
    (`numerical_result` 0: the answer is yes)."""
    assert NCA.is_file(), f"{NCA} is missing: run `make install`"
    files = {"rendered.yaml": policies, "traffic.yaml": [traffic], "world.yaml": world}
    for name, docs in files.items():
        (workdir / name).write_text(yaml.safe_dump_all(docs))
    out = workdir / f"{query}.json"
    result = subprocess.run(
        [
            str(NCA), f"--{query}", "traffic.yaml", "--base_np_list", "rendered.yaml",
            "--pod_list", "world.yaml", "--ns_list", "world.yaml", "--output_format", "json", "--file_out", str(out),
        ],
        cwd=workdir, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.is_file(), f"nca wrote no answer (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    (answer,) = json.loads(out.read_text())
    assert answer["query"] == f"{query.capitalize()}Query", answer
    return dict(answer)


def traffic(
    name: str,
    namespace: str,
    pod_labels: dict[str, str],
    direction: Literal["Ingress", "Egress"],
    rules: list[tuple[list[dict[str, Any]], int]],
) -> dict[str, Any]:
    """Connections of the pods with `pod_labels`, written as a policy for the analyzer to check: (peers, TCP
    port) per rule, the peers being the sources (Ingress) or the destinations (Egress)."""
    key, peer_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": pod_labels},
            "policyTypes": [direction],
            key: [{peer_key: peers, "ports": [{"port": port, "protocol": "TCP"}]} for peers, port in rules],
        },
    }


def egress_traffic(
    name: str, namespace: str, pod_labels: dict[str, str], rules: list[tuple[str, int]]
) -> dict[str, Any]:
    """Connections from the pods with `pod_labels`: (destination CIDR, TCP port) per rule."""
    return traffic(
        name, namespace, pod_labels, "Egress", [([{"ipBlock": {"cidr": cidr}}], port) for cidr, port in rules]
    )


def ingress_traffic(
    name: str, namespace: str, pod_labels: dict[str, str], rules: list[tuple[list[dict[str, Any]], int]]
) -> dict[str, Any]:
    """Connections to the pods with `pod_labels`: (sources, TCP port) per rule."""
    return traffic(name, namespace, pod_labels, "Ingress", rules)
