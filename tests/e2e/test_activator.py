"""The activator on the real control plane, with exactly the chart's RBAC: it reads and watches the routes
ConfigMap by name and sets the wake-up annotation on a ClaudeCodeProvider, and may do nothing else. The
test plays the operator (it sets the route's target once the annotation appears); the woken pod is a
fake LiteLLM on 127.0.0.1; the client is the official openai client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import openai
import yaml

from claude_code_devkit.cluster import Cluster, service_account_kubeconfig
from claude_code_devkit.fakes.litellm_api import ANSWER, FakeLiteLLM, serve_on_loopback
from claude_code_devkit.network_analyzer import analyze, egress_traffic, ingress_traffic, traffic
from claude_code_devkit.operator_process import CHART
from claude_code_devkit.paths import VENV_BIN
from claude_code_devkit.ports import free_port
from claude_code_devkit.processes import Process
from tests.integration.test_activator_network_policy import ACTIVATOR, activator_world, route_policies
from tests.integration.test_network_policy import ALLOW_FROM, EVERYONE, OPERATOR_NS, TEAM, provider, source

PROVIDER = (
    "apiVersion: claudecode.dev/v1alpha1\nkind: ClaudeCodeProvider\nmetadata: {name: alice}\n"
    "spec: {credentials: {secretName: alice-login}, owner: alice@example.com}\n"
)
MASTER_KEY = "sk-activator-e2e-master"
ROUTES = "claude-code-activator-routes"


def render_activator_rbac(cluster: Cluster, namespace: str, release: str, helm_home: Path) -> list[dict[str, object]]:
    """The chart's activator objects that grant rights (watching only this namespace: Roles, no
    ClusterRole), the ServiceAccount among them."""
    out = cluster.helm(
        "template", release, str(CHART), "--namespace", namespace, "--show-only", "templates/activator.yaml",
        "--set", "activator.enabled=true", "--set", f"watchNamespaces={{{namespace}}}", helm_home=helm_home,
    ).stdout  # fmt: skip
    docs = [doc for doc in yaml.safe_load_all(out) if doc]
    return [doc for doc in docs if doc["kind"] in {"ServiceAccount", "Role", "RoleBinding"}]


def routes_config_map(namespace: str, port: int, target: str | None) -> str:
    routes = {str(port): {"namespace": namespace, "name": "alice", "target": target}}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": ROUTES, "namespace": namespace},
            "data": {"routes.json": json.dumps(routes)},
        }
    )


async def wait_for(check: Callable[[], Awaitable[str]], what: str, timeout: float) -> str:
    """Poll `check` until it returns a non-empty string."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout} s")


def test_the_charts_activator_rights_are_the_routes_config_map_and_the_wake_up_patch(
    cluster: Cluster, namespace: str, tmp_path: Path, claude_code_crd: None
) -> None:
    release = f"act-{namespace[-6:]}"
    docs = render_activator_rbac(cluster, namespace, release, tmp_path / "helm")
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [  # type: ignore[index]
        ("Role", f"{release}-claude-code-operator-activator"),
        ("Role", f"{release}-claude-code-operator-activator-wake"),
        ("RoleBinding", f"{release}-claude-code-operator-activator"),
        ("RoleBinding", f"{release}-claude-code-operator-activator-wake"),
        ("ServiceAccount", f"{release}-claude-code-operator-activator"),
    ]
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    cluster.kubectl("apply", "-f", str(manifest))
    account = f"system:serviceaccount:{namespace}:{release}-claude-code-operator-activator"

    def can(verb: str, resource: str) -> bool:
        """`resource` as kubectl takes it (`kind/name`), or `kind:subresource`."""
        kind, _, subresource = resource.partition(":")
        asked = ["--subresource", subresource] if subresource else []
        answer = cluster.kubectl(
            "auth", "can-i", verb, kind, *asked, "-n", namespace, f"--as={account}", check=False
        )  # fmt: skip
        return answer.stdout.strip() == "yes"

    ccp = "claudecodeproviders.claudecode.dev"
    allowed = [("get", f"configmaps/{ROUTES}"), ("list", f"configmaps/{ROUTES}"), ("watch", f"configmaps/{ROUTES}")]
    allowed.append(("patch", ccp))
    assert [(verb, what) for verb, what in allowed if not can(verb, what)] == []
    refused = [
        ("get", "configmaps/other"), ("list", "configmaps"), ("patch", f"configmaps/{ROUTES}"),
        ("get", "secrets"), ("list", "secrets"), ("get", ccp), ("update", ccp), ("delete", ccp),
        ("patch", f"{ccp}:status"), ("get", "pods"), ("create", "pods"), ("patch", "endpointslices.discovery.k8s.io"),
    ]  # fmt: skip
    assert [(verb, what) for verb, what in refused if can(verb, what)] == []


async def test_a_request_for_a_sleeping_provider_wakes_it_once_and_is_passed_through(
    cluster: Cluster, namespace: str, tmp_path: Path, claude_code_crd: None
) -> None:
    release = f"act-{namespace[-6:]}"
    docs = render_activator_rbac(cluster, namespace, release, tmp_path / "helm")
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    cluster.kubectl("apply", "-f", str(manifest))
    resource = tmp_path / "alice.yaml"
    resource.write_text(PROVIDER)
    cluster.kubectl("apply", "-n", namespace, "-f", str(resource))
    port, upstream_port, health_port = free_port(), free_port(), free_port()
    config_map = tmp_path / "routes.json"
    config_map.write_text(routes_config_map(namespace, port, None))
    cluster.kubectl("apply", "-f", str(config_map))
    kubeconfig = service_account_kubeconfig(
        cluster, namespace, f"{release}-claude-code-operator-activator", tmp_path / "activator.kubeconfig"
    )
    upstream = FakeLiteLLM(MASTER_KEY)
    runner = await serve_on_loopback(upstream.handle, upstream_port)
    process = Process(
        [
            str(VENV_BIN / "claude-code-operator"), "activator", "--routes-namespace", namespace,
            "--host", "127.0.0.1", "--health-port", str(health_port), "--hold-seconds", "60",
        ],
        env={"PATH": str(VENV_BIN), "KUBECONFIG": str(kubeconfig), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
        log=tmp_path / "activator.log",
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:

            async def healthy() -> str:
                assert process.alive(), process.output()
                try:
                    async with session.get(f"http://127.0.0.1:{health_port}/healthz") as response:
                        return "ready" if response.status == 200 else ""
                except aiohttp.ClientError:
                    return ""

            await wait_for(healthy, "the activator's readiness (routes read, port open)", 30)
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0)
        ask = [{"role": "user", "content": "hi"}]
        requests = [asyncio.create_task(client.chat.completions.create(model="claude", messages=ask)) for _ in range(2)]

        async def annotation() -> str:
            got = await asyncio.to_thread(
                cluster.kubectl, "get", "claudecodeprovider", "alice", "-n", namespace,
                "-o", "jsonpath={.metadata.annotations.claudecode\\.dev/wake-requested-at}",
            )  # fmt: skip
            return got.stdout.strip()

        asked_at = await wait_for(annotation, "the wake-up annotation", 30)
        assert abs((datetime.now(UTC) - datetime.strptime(asked_at, "%Y-%m-%dT%H:%M:%S%z")).total_seconds()) < 30
        assert not any(r.done() for r in requests), "both are held until the pod is Ready"
        # The stand-in operator: the pod is Ready, the route gets its address (the watch delivers it).
        config_map.write_text(routes_config_map(namespace, port, f"127.0.0.1:{upstream_port}"))
        await asyncio.to_thread(cluster.kubectl, "apply", "-f", str(config_map))
        answers = await asyncio.wait_for(asyncio.gather(*requests), timeout=30)
        assert [a.choices[0].message.content for a in answers] == [ANSWER, ANSWER]
        assert [dict(s["headers"])["Authorization"] for s in upstream.seen] == [f"Bearer {MASTER_KEY}"] * 2
        assert process.output().count("Wake-up asked for") == 1, process.output()
    finally:
        process.stop()
        await runner.cleanup()
    assert MASTER_KEY not in process.output()


def render_chart(cluster: Cluster, helm_home: Path, *args: str) -> list[dict[str, Any]]:
    out = cluster.helm("template", "cco", str(CHART), "--namespace", OPERATOR_NS, *args, helm_home=helm_home).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_the_activator_is_off_by_default_and_on_runs_the_operator_image_as_its_own_account(
    cluster: Cluster, tmp_path: Path
) -> None:
    default = render_chart(cluster, tmp_path / "helm")
    assert [d["metadata"]["name"] for d in default if "activator" in d["metadata"]["name"]] == []
    docs = render_chart(
        cluster, tmp_path / "helm", "--set", "activator.enabled=true", "--set", "activator.holdSeconds=30"
    )
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    operator_pod = deployments["cco-claude-code-operator"]["spec"]["template"]
    activator_pod = deployments["cco-claude-code-operator-activator"]["spec"]["template"]
    assert activator_pod["metadata"]["labels"] == ACTIVATOR, "the labels the operator's route policies select"
    (container,) = activator_pod["spec"]["containers"]
    assert container["image"] == operator_pod["spec"]["containers"][0]["image"]
    assert container["command"] == ["claude-code-operator"]
    assert container["args"][0] == "activator"
    assert "--hold-seconds=30" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert activator_pod["spec"]["serviceAccountName"] == "cco-claude-code-operator-activator"
    assert activator_pod["spec"]["serviceAccountName"] != operator_pod["spec"]["serviceAccountName"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole" and "activator" in d["metadata"]["name"]]
    assert [r["rules"] for r in cluster_roles] == [
        [{"apiGroups": ["claudecode.dev"], "resources": ["claudecodeproviders"], "verbs": ["patch"]}]
    ]


#: Where the kubelet's probes come from (a node's address), and a pod with no policy of its own.
PROBES = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, source(TEAM, "bystander")]


def to_pods(name: str, rules: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    """Connections from the activator's pods, written as a policy: (destination peer, TCP port) per rule."""
    return traffic(name, OPERATOR_NS, ACTIVATOR, "Egress", [([peer], port) for peer, port in rules])


def test_the_activators_own_policy_admits_probes_and_reaches_provider_pods_and_the_api_server_only(
    cluster: Cluster, tmp_path: Path
) -> None:
    docs = render_chart(
        cluster, tmp_path / "helm", "--set", "activator.enabled=true", "--set", "networkPolicy.enabled=true",
        "--set", "apiServer.endpoints={10.0.0.11:6443}",
    )  # fmt: skip
    (base,) = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-activator")]
    alice = provider(ALLOW_FROM)
    policies = [base, *route_policies(alice)]
    provider_pod = source(TEAM, "alice-claude-code")
    provider_pod["podSelector"] = {"matchLabels": {"claudecode.dev/provider": "alice"}}
    verdicts: list[tuple[Literal["permits", "forbids"], dict[str, Any]]] = [
        ("permits", to_pods("to-providers", [(provider_pod, 4000)])),
        ("permits", egress_traffic("to-api", OPERATOR_NS, ACTIVATOR, [("10.0.0.11/32", 6443), ("10.96.0.1/32", 443)])),
        ("forbids", to_pods("elsewhere", [(provider_pod, 8080), (source(TEAM, "client-a"), 4000)])),
        ("forbids", egress_traffic("far", OPERATOR_NS, ACTIVATOR, [("10.0.0.11/32", 2379), ("10.0.0.12/32", 5432)])),
        # the kubelet's probes (from nodes; any pod too), the route's clients; nobody on a port no route has
        (
            "permits",
            ingress_traffic("in", OPERATOR_NS, ACTIVATOR, [(PROBES, 8080), ([source(TEAM, "client-a")], 20000)]),
        ),
        (
            "forbids",
            ingress_traffic(
                "not-in", OPERATOR_NS, ACTIVATOR, [(EVERYONE, 20002), ([source(TEAM, "bystander")], 20000)]
            ),
        ),
    ]
    for index, (query, connections) in enumerate(verdicts):
        workdir = tmp_path / f"{index}-{query}"
        workdir.mkdir()
        answer = analyze(query, connections, policies, activator_world(alice), workdir)
        assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)
