"""`make demo` with KUBECONFIG naming a cluster other than the local control plane: the chart's
Deployment runs the operator, nothing runs as a demo process but `kubectl port-forward`, and the
completion travels port-forward -> Service -> pod. Here that "real" cluster is the session's own
(a copy of its kubeconfig), with the test in the container runtime's place: the session's pod
runner runs the provider pod and the chart's operator Deployment's pod, both from the images
`make images` built (the chart's command and args, its ServiceAccount's token projected where a
kubelet puts it). With POD_IMAGES=0 (no images), the operator process stands in for the Deployment
under its ServiceAccount."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
from kubernetes import client

from claude_code_devkit.buildah import image_refs
from claude_code_devkit.cluster import Cluster, service_account_kubeconfig
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.image_runtime import image_mode_refs
from claude_code_devkit.operator_process import OperatorProcess
from claude_code_devkit.paths import REPO
from claude_code_devkit.podrunner import PodRunner
from claude_code_devkit.waiting import wait_until
from tests.e2e.conftest import run_pods_in


def run_demo(state_dir: Path, env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_code_devkit.demo", *args, "--state-dir", str(state_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.timeout(900)
def test_demo_on_a_kubeconfig_cluster_installs_the_chart_and_answers_through_port_forward(
    cluster: Cluster,
    core: client.CoreV1Api,
    namespace: str,
    pod_runner: PodRunner,
    fake_upstream: FakeAnthropic,
    tmp_path: Path,
) -> None:
    if not cluster.local:
        pytest.skip("E2E_KUBECONFIG is set: this test stands in for the container runtime of the local cluster")
    answer = "Hello through kubectl port-forward."
    fake_upstream.default_reply = TextReply(answer)
    suffix = secrets.token_hex(3)
    operator_ns, release = f"demor-op-{suffix}", f"demor-{suffix}"
    kubeconfig = tmp_path / "real-cluster.kubeconfig"  # not the local cluster's path: the remote mode
    shutil.copy(cluster.kubeconfig, kubeconfig)
    state_dir = tmp_path / "demo"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DEMO_OFFLINE"},
        "KUBECONFIG": str(kubeconfig),
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-demo-remote-" + secrets.token_urlsafe(16),
    }
    names = ["--namespace", namespace, "--operator-namespace", operator_ns, "--release", release]
    up = subprocess.Popen(
        [sys.executable, "-m", "claude_code_devkit.demo", "up", *names, "--state-dir", str(state_dir)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    operator: OperatorProcess | None = None
    from_image = bool(image_mode_refs())
    try:
        if from_image:
            # The chart's Deployment runs the operator from its image: the pod runner runs the namespace's pods.
            wait_until(
                lambda: up.poll() is not None
                or cluster.kubectl("get", "namespace", operator_ns, check=False).returncode == 0,
                timeout=300, interval=0.5, what=f"the demo to create namespace {operator_ns}",
            )  # fmt: skip
            if up.poll() is None:
                run_pods_in(core, operator_ns)
        else:
            # kwok runs no program here: the test runs the operator under the Deployment's ServiceAccount.
            service_account = f"{release}-claude-code-operator"
            wait_until(
                lambda: up.poll() is not None
                or cluster.kubectl("get", "sa", service_account, "-n", operator_ns, check=False).returncode == 0,
                timeout=300, interval=1, what=f"helm to create ServiceAccount {service_account}",
            )  # fmt: skip
            if up.poll() is None:
                operator = OperatorProcess(
                    kubeconfig=service_account_kubeconfig(
                        cluster, operator_ns, service_account, tmp_path / "operator.kubeconfig"
                    ),
                    log_path=tmp_path / "operator.log",
                    args=[
                        "--namespace", namespace, "--operator-namespace", operator_ns, "--operator-labels",
                        f"app.kubernetes.io/name=claude-code-operator,app.kubernetes.io/instance={release}",
                    ],
                )  # fmt: skip
                operator.start()
        output, _ = up.communicate(timeout=600)
        assert up.returncode == 0, output
        assert "OFFLINE" not in output
        reply = re.search(r"reply: (.+)", output)
        assert reply, output
        assert reply[1] == answer
        assert re.search(r"^me\s+True\s+Ready\s+LoggedIn", output, re.MULTILINE), output
        # The operator is the chart's, not a demo process; only the port-forward is the demo's.
        recorded = json.loads((state_dir / "processes.json").read_text())
        assert {r["name"] for r in recorded} == {"port-forward"}
        deployments = cluster.kubectl("get", "deploy", "-n", operator_ns, "-o", "json").stdout
        assert [d["spec"]["replicas"] for d in json.loads(deployments)["items"]] == [1]
        if from_image:
            ran = [p for p in pod_runner.running().values() if p.namespace == operator_ns]
            assert len(ran) == 1, [p.describe() for p in ran]
            container = ran[0].container("operator")
            assert container.image == image_refs()["operator"], ran[0].describe()
            assert container.argv[:2] == ["claude-code-operator", "run"], ran[0].describe()
            assert container.process.poll() is None, ran[0].describe()

        # The printed example works as printed, through the port-forward left running.
        base_url = re.search(r'base_url="(http://127\.0\.0\.1:\d+/v1)"', output)
        api_key = re.search(r'api_key="([^"]+)"', output)
        assert base_url, output
        assert api_key, output
        with httpx.Client(trust_env=False) as http:
            client = openai.OpenAI(base_url=base_url[1], api_key=api_key[1], http_client=http, max_retries=0)
            again = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "Hi"}])
        assert again.choices[0].message.content == answer
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        down = run_demo(state_dir, env, "down", timeout=400)
        if operator is not None:
            operator.stop()
    assert down.returncode == 0, f"stdout:\n{down.stdout}\nstderr:\n{down.stderr}"
    assert not state_dir.exists()
    assert cluster.kubectl("get", "ccp", "-n", namespace, "-o", "name").stdout.strip() == ""
    assert cluster.kubectl("get", "namespace", operator_ns, check=False).returncode != 0, "the demo made it"
    assert cluster.kubectl("get", "namespace", namespace, check=False).returncode == 0, "it was there before"
    released = cluster.helm("list", "-A", "-q", helm_home=tmp_path / "helm").stdout.split()
    assert release not in released
    with pytest.raises(httpx.TransportError):  # the port-forward is stopped
        httpx.get(f"{base_url[1]}/models", timeout=5, trust_env=False)
