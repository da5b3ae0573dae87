"""Several operator replicas: kopf peering with distinct priorities keeps exactly one active."""

from __future__ import annotations

import json

from kubernetes import client

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.operator_process import OperatorDeployment, install_peering_crds
from claude_code_devkit.waiting import wait_until
from tests.e2e.test_operator import DEADLINE, create_with_login, read_pod


def test_only_the_highest_priority_replica_works_and_the_other_takes_over(
    cluster: Cluster,
    core: client.CoreV1Api,
    api: client.ApiClient,
    namespace: str,
    operator: OperatorDeployment,
) -> None:
    install_peering_crds(cluster, namespace)
    manifest = operator.workdir / "peering.yaml"
    manifest.write_text(
        f"apiVersion: kopf.dev/v1\nkind: KopfPeering\nmetadata: {{name: peers, namespace: {namespace}}}\n"
    )
    cluster.kubectl("apply", "-f", str(manifest))
    operator.install_rbac("replicas=2", f"watchNamespaces={{{namespace}}}")
    high = operator.start("--peering", "peers", "--priority", "200")
    low = operator.start("--peering", "peers", "--priority", "100")

    def peers() -> int:
        got = cluster.kubectl("get", "kopfpeering", "peers", "-n", namespace, "-o", "json").stdout
        return len(json.loads(got).get("status") or {})

    # kopf starts a replica paused under mandatory peering; it works only when no higher priority is alive.
    wait_until(lambda: peers() == 2, timeout=DEADLINE, what="both replicas to register as peers")

    custom = client.CustomObjectsApi(api)
    first = create_with_login(core, custom, namespace, "peer", "peer-login")
    # The pod can be read a moment before the replica that created it has logged so.
    wait_until(lambda: "Created pod" in high.logs(), timeout=10, what="the high replica's log of the pod")
    assert "Created pod" not in low.logs(), "a paused replica must not act"

    high.stop()
    wait_until(lambda: "Resuming operations" in low.logs(), timeout=DEADLINE, what="the low one to take over")
    core.delete_namespaced_pod("peer-claude-code", namespace)

    def replaced() -> bool:
        pod = read_pod(core, namespace, "peer-claude-code")
        return pod is not None and pod.metadata.uid != first.metadata.uid

    wait_until(replaced, timeout=DEADLINE, what="the remaining replica to replace the pod")
    assert "Created pod" in low.logs()
