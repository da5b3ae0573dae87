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

import aiohttp
import openai
import yaml

from claude_code_devkit.cluster import Cluster, service_account_kubeconfig
from claude_code_devkit.fakes.litellm_api import ANSWER, FakeLiteLLM, serve_on_loopback
from claude_code_devkit.operator_process import CHART
from claude_code_devkit.paths import VENV_BIN
from claude_code_devkit.ports import free_port
from claude_code_devkit.processes import Process

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
        answer = cluster.kubectl("auth", "can-i", verb, resource, "-n", namespace, f"--as={account}", check=False)
        return answer.stdout.strip() == "yes"

    ccp = "claudecodeproviders.claudecode.dev"
    allowed = [("get", f"configmaps/{ROUTES}"), ("list", f"configmaps/{ROUTES}"), ("watch", f"configmaps/{ROUTES}")]
    allowed.append(("patch", ccp))
    assert [(verb, what) for verb, what in allowed if not can(verb, what)] == []
    refused = [
        ("get", "configmaps/other"), ("list", "configmaps"), ("patch", f"configmaps/{ROUTES}"),
        ("get", "secrets"), ("list", "secrets"), ("get", ccp), ("update", ccp), ("delete", ccp),
        ("patch", f"{ccp}/status"), ("get", "pods"), ("create", "pods"), ("patch", "endpointslices.discovery.k8s.io"),
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
