"""helm against the cluster: a tiny chart installs with --wait, its RBAC holds, uninstall cleans up."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.waiting import wait_until

CHART = Path(__file__).parent / "charts" / "tiny"


def test_helm_install_wait_and_uninstall(
    cluster: Cluster, api: client.ApiClient, core: client.CoreV1Api, namespace: str, tmp_path: Path, sa_kubeconfig
) -> None:  # type: ignore[no-untyped-def]
    apps = client.AppsV1Api(api)
    helm_home = tmp_path / "helm"
    installed = cluster.helm(
        "install",
        "tiny",
        str(CHART),
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        "120s",
        helm_home=helm_home,
        timeout=180,
    )
    assert "STATUS: deployed" in installed.stdout, installed.stdout

    # --wait returned, so the Deployment's pods are Ready.
    deployment = apps.read_namespaced_deployment("tiny", namespace)
    assert deployment.status.ready_replicas == 2
    assert core.read_namespaced_config_map("tiny-config", namespace).data == {"greeting": "hello from tiny"}
    status = cluster.helm("status", "tiny", "--namespace", namespace, helm_home=helm_home)
    assert "STATUS: deployed" in status.stdout

    # The chart's ServiceAccount can do exactly what its Role grants.
    with config.new_client_from_config(config_file=str(sa_kubeconfig(namespace, "tiny"))) as chart_api:
        chart_core = client.CoreV1Api(chart_api)
        data = wait_until(
            lambda: chart_core.read_namespaced_config_map("tiny-config", namespace).data,
            timeout=30,
            what="the chart's Role to take effect",
            ignore=(ApiException,),
        )
        assert data == {"greeting": "hello from tiny"}
        with pytest.raises(ApiException) as err:
            chart_core.list_namespaced_secret(namespace)
        assert err.value.status == 403

    cluster.helm("uninstall", "tiny", "--namespace", namespace, "--wait", "--timeout", "120s", helm_home=helm_home)
    selector = "app.kubernetes.io/instance=tiny"

    def leftovers() -> list[str]:
        kinds = [
            ("deployment", apps.list_namespaced_deployment(namespace, label_selector=selector).items),
            ("configmap", core.list_namespaced_config_map(namespace, label_selector=selector).items),
            ("serviceaccount", core.list_namespaced_service_account(namespace, label_selector=selector).items),
            ("pod", core.list_namespaced_pod(namespace, label_selector=selector).items),
        ]
        return [f"{kind}/{o.metadata.name}" for kind, items in kinds for o in items]

    wait_until(lambda: leftovers() == [], timeout=60, what="helm uninstall to remove the release's objects")
    listed = cluster.helm("list", "--namespace", namespace, "--all", "-q", helm_home=helm_home)
    assert listed.stdout.strip() == ""
