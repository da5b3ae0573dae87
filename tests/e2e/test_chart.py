"""The chart on the real control plane: lint and render for every values file, the rendered manifests
validated by the pinned API server (`kubectl apply --dry-run=server`), install, an upgrade that changes
the CRD, a resource reconciled by the operator under the chart's namespaced RBAC, uninstall."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from claude_code_devkit.cluster import Cluster, service_account_kubeconfig
from claude_code_devkit.network_analyzer import analyze, egress_traffic
from claude_code_devkit.operator_process import CHART, CRD_NAME, OperatorProcess, install_peering_crds
from claude_code_devkit.waiting import wait_until
from tests.e2e.test_operator import opted_in

VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


#: The Prometheus Operator's kinds, which the chart renders when asked.
PROMETHEUS_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def serves_prometheus_kinds(cluster: Cluster) -> bool:
    """devkit/cluster installs the Prometheus Operator's CRDs; an E2E_KUBECONFIG cluster may not have them."""
    served = cluster.kubectl("api-resources", "--api-group=monitoring.coreos.com", "-o", "name").stdout.split()
    found = {"servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com"} <= set(served)
    assert found or not cluster.local, "devkit/cluster/cluster.sh up installs the Prometheus Operator's CRDs"
    return found


def render(cluster: Cluster, helm_home: Path, namespace: str, *args: str) -> list[dict[str, Any]]:
    out = cluster.helm("template", "cco", str(CHART), "--namespace", namespace, *args, helm_home=helm_home).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.name)
def test_every_values_file_lints_and_the_api_server_accepts_what_it_renders(
    cluster: Cluster, namespace: str, tmp_path: Path, values: Path
) -> None:
    helm_home = tmp_path / "helm"
    lint = cluster.helm("lint", str(CHART), "--strict", "-f", str(values), helm_home=helm_home)
    assert "0 chart(s) failed" in lint.stdout, lint.stdout
    # Namespaced RBAC for one values run per file: the namespace must exist for the dry run.
    docs = render(cluster, helm_home, namespace, "-f", str(values), "--set", f"watchNamespaces={{{namespace}}}")
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "ServiceAccount", "ClusterRole", "Role", "RoleBinding", "Service"} <= kinds, kinds
    install_peering_crds(cluster, namespace)  # helm install applies the chart's crds/; template does not
    # The Prometheus Operator's kinds too where their CRDs are served (always on the local cluster).
    checkable = docs if serves_prometheus_kinds(cluster) else [d for d in docs if d["kind"] not in PROMETHEUS_KINDS]
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(checkable))
    checked = cluster.kubectl("apply", "--dry-run=server", "-f", str(manifest))  # each names its namespace
    assert checked.stdout.count("(server dry run)") == len(checkable), checked.stdout
    for doc in docs:
        if doc["kind"] == "ConfigMap" and "claude-code.json" in doc.get("data", {}):
            dashboard = json.loads(doc["data"]["claude-code.json"])
            assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
            assert len(dashboard["panels"]) >= 6


def test_bad_values_are_refused_with_the_offending_key(cluster: Cluster, tmp_path: Path) -> None:
    cases = {"replicas=-1": "/replicas", "watchNamespaces={Team_A}": "/watchNamespaces/0", "replica=2": "'replica'"}
    for value, named in cases.items():
        refused = cluster.helm("template", "x", str(CHART), "--set", value, helm_home=tmp_path / "helm", check=False)
        assert refused.returncode != 0, value
        assert named in refused.stderr, refused.stderr


def test_ha_renders_peering_distinct_priorities_and_a_disruption_budget(cluster: Cluster, tmp_path: Path) -> None:
    docs = render(cluster, tmp_path / "helm", "ops", "--set", "replicas=3")
    by_kind = {d["kind"]: d for d in docs}
    args = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--peering=cco-claude-code-operator" in args
    assert not any(a.startswith("--priority") for a in args), "each replica draws its own priority"
    assert by_kind["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert "ClusterKopfPeering" in by_kind
    single = {d["kind"] for d in render(cluster, tmp_path / "helm", "ops")}
    assert "PodDisruptionBudget" not in single
    assert "ClusterKopfPeering" not in single


def crd(cluster: Cluster) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", "crd", CRD_NAME, "-o", "json").stdout)
    return found


def printer_columns(cluster: Cluster) -> list[str]:
    return [c["name"] for c in crd(cluster)["spec"]["versions"][0]["additionalPrinterColumns"]]


def chart_with_extra_column(tmp_path: Path) -> Path:
    """A copy of the chart whose CRD template has one more (harmless) printer column."""
    copy = tmp_path / "chart-v2"
    shutil.copytree(CHART, copy)
    template = copy / "templates" / "crd-claudecodeproviders.yaml"
    text = template.read_text()
    marker = "    - name: Age\n"
    assert marker in text
    extra = "    - name: Owner\n      type: string\n      jsonPath: .spec.owner\n      description: whose login\n"
    template.write_text(text.replace(marker, extra + marker, 1))
    return copy


@pytest.mark.timeout(600)
def test_install_upgrade_with_a_crd_change_reconcile_under_the_charts_rbac_and_uninstall(
    cluster: Cluster, core: client.CoreV1Api, namespace: str, tmp_path: Path, claude_code_crd: None
) -> None:
    helm_home = tmp_path / "helm"
    release = f"cco-{namespace[-6:]}"
    fullname = f"{release}-claude-code-operator"
    common = ["--namespace", namespace, "--take-ownership", "--set", f"watchNamespaces={{{namespace}}}"]
    common += ["--wait", "--timeout", "120s"]
    try:
        installed = cluster.helm("install", release, str(CHART), *common, helm_home=helm_home, timeout=180)
        assert "STATUS: deployed" in installed.stdout
        assert "kubectl create secret generic alice-login" in installed.stdout, "NOTES tell the next step"
        annotations = crd(cluster)["metadata"]["annotations"]
        assert annotations["meta.helm.sh/release-name"] == release
        assert annotations["helm.sh/resource-policy"] == "keep"
        assert "Owner" not in printer_columns(cluster)

        # helm upgrade upgrades the CRD (a crds/ folder would not), and back.
        v2 = chart_with_extra_column(tmp_path)
        cluster.helm("upgrade", release, str(v2), *common, helm_home=helm_home, timeout=180)
        assert "Owner" in printer_columns(cluster)
        cluster.helm("upgrade", release, str(CHART), *common, helm_home=helm_home, timeout=180)
        assert "Owner" not in printer_columns(cluster)

        # The operator with the installed ServiceAccount's token reconciles what kubectl applies.
        kubeconfig = service_account_kubeconfig(cluster, namespace, fullname, tmp_path / "operator.kubeconfig")
        labels = f"app.kubernetes.io/name=claude-code-operator,app.kubernetes.io/instance={release}"
        operator = OperatorProcess(
            kubeconfig=kubeconfig, log_path=tmp_path / "operator.log",
            args=["--namespace", namespace, "--operator-namespace", namespace, "--operator-labels", labels],
        )  # fmt: skip
        operator.start()
        try:
            core.create_namespaced_secret(
                namespace,
                client.V1Secret(
                    metadata=client.V1ObjectMeta(name="alice-login", labels=opted_in("alice")),
                    string_data={"oauth-token": "t"},
                ),
            )
            resource = tmp_path / "alice.yaml"
            resource.write_text(
                "apiVersion: claudecode.dev/v1alpha1\nkind: ClaudeCodeProvider\nmetadata: {name: alice}\n"
                "spec: {credentials: {secretName: alice-login}, owner: alice@example.com}\n"
            )
            cluster.kubectl("apply", "-n", namespace, "-f", str(resource))

            def reconciled() -> bool:
                try:
                    core.read_namespaced_pod("alice-claude-code", namespace)
                    core.read_namespaced_service("alice", namespace)
                except ApiException as exc:
                    if exc.status == 404:
                        return False
                    raise
                got = cluster.kubectl("get", "ccp", "alice", "-n", namespace, "-o", "json").stdout
                conditions = {c["type"]: c["status"] for c in json.loads(got).get("status", {}).get("conditions", [])}
                return conditions.get("CredentialsValid") == "True"

            wait_until(reconciled, timeout=90, what=f"the operator to reconcile alice; log:\n{operator.log_tail()}")
            # The operator's own wording for a refused request ("API error 403: Forbidden", a failed liveness).
            logs = operator.logs()
            assert "Forbidden" not in logs, "the chart's RBAC covers what the operator does"
            assert "failed permanently" not in logs
            assert operator.live()
            # Per provider, what the chart's alerts and dashboard query.
            series = [
                line
                for line in operator.metrics().splitlines()
                if line.startswith("claude_code_operator_provider_phase{")
            ]
            alice = [line for line in series if 'name="alice"' in line and f'namespace="{namespace}"' in line]
            assert [line for line in alice if line.endswith(" 1.0")], series
            cluster.kubectl("delete", "ccp", "alice", "-n", namespace, "--wait", "--timeout=60s")
        finally:
            # A finalizer (an older operator's, or a test's) would keep the resource and namespace forever.
            cluster.kubectl("delete", "ccp", "alice", "-n", namespace, "--wait", "--timeout=60s", check=False)
            operator.stop()
            cluster.kubectl(
                "patch",
                "ccp",
                "alice",
                "-n",
                namespace,
                "--type=merge",
                "-p",
                '{"metadata":{"finalizers":[]}}',
                check=False,
            )

        cluster.helm("uninstall", release, "--namespace", namespace, "--wait", helm_home=helm_home, timeout=180)
        cluster_scoped = [("clusterrole", f"{fullname}-edit"), ("clusterrole", f"{fullname}-view")]
        for kind, name in [("clusterrole", fullname), ("clusterrolebinding", fullname), *cluster_scoped]:
            assert cluster.kubectl("get", kind, name, check=False).returncode != 0, f"{kind}/{name} left"
        for kind in ("deployment", "serviceaccount", "role", "rolebinding", "service"):
            left = cluster.kubectl(
                "get", kind, "-n", namespace, "-l", f"app.kubernetes.io/instance={release}", "-o", "name"
            )
            assert left.stdout.strip() == "", f"left after uninstall: {left.stdout}"
        assert crd(cluster)["metadata"]["name"] == CRD_NAME, "the CRD (and every resource of it) is kept"
    finally:
        cluster.helm("uninstall", release, "--namespace", namespace, helm_home=helm_home, check=False)
        cluster.kubectl("delete", "clusterrole,clusterrolebinding", fullname, "--ignore-not-found")
        cluster.kubectl("delete", "clusterrole", f"{fullname}-edit", f"{fullname}-view", "--ignore-not-found")


def test_the_api_server_judges_the_monitoring_objects_by_the_prometheus_operators_schemas(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """Not only accepted: a rule the Prometheus Operator's CRD forbids (a `for` that is no duration) is refused."""
    if not serves_prometheus_kinds(cluster):
        pytest.skip("E2E_KUBECONFIG names a cluster without the Prometheus Operator's CRDs")
    docs = render(cluster, tmp_path / "helm", namespace, "-f", str(CHART / "ci" / "observability-values.yaml"))
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "soon"
    manifest = tmp_path / "bad-rule.yaml"
    manifest.write_text(yaml.safe_dump(rule))
    refused = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(manifest), check=False)
    assert refused.returncode != 0
    assert "spec.groups[0].rules[0].for" in refused.stderr, refused.stderr


def operator_world(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's namespace and its pod, as the chart's Deployment labels it."""
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ops", "labels": {"kubernetes.io/metadata.name": "ops"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "operator",
                "namespace": "ops",
                "labels": deployment["spec"]["template"]["metadata"]["labels"],
            },
            "spec": {"containers": [{"name": "operator", "image": "example.invalid/operator"}]},
        },
    ]


def test_the_operators_network_policy_reaches_the_api_server_at_its_real_port(cluster: Cluster, tmp_path: Path) -> None:
    real = ["--set", "networkPolicy.enabled=true", "--set", "apiServer.endpoints={10.0.0.11:6443,[fd00::1]:6443}"]
    docs = render(cluster, tmp_path / "helm", "ops", *real)
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
    egress = policy["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "fd00::1/128"}}], "ports": [{"port": 6443, "protocol": "TCP"}]} in egress
    world = operator_world(docs)
    labels = {"app.kubernetes.io/name": "claude-code-operator"}
    verdicts: dict[Literal["permits", "forbids"], list[tuple[str, int]]] = {
        # the API server at its real address and port, and its Service's port
        "permits": [("10.0.0.11/32", 6443), ("10.96.0.1/32", 443)],
        # etcd and the kubelet on its node, another host's 6443
        "forbids": [("10.0.0.11/32", 2379), ("10.0.0.11/32", 10250), ("10.0.0.12/32", 6443)],
    }
    for query, rules in verdicts.items():
        (tmp_path / query).mkdir()
        answer = analyze(query, egress_traffic(query, "ops", labels, rules), [policy], world, tmp_path / query)
        assert answer["numerical_result"] == 0, json.dumps(answer, indent=1)
    # Nothing known (`helm template` finds no EndpointSlice): the usual API server port, to any address.
    unknown = render(cluster, tmp_path / "helm", "ops", "--set", "networkPolicy.enabled=true")
    (fallback,) = [d for d in unknown if d["kind"] == "NetworkPolicy"]
    assert {"ports": [{"port": 6443, "protocol": "TCP"}]} in fallback["spec"]["egress"]
    assert not [d for d in render(cluster, tmp_path / "helm", "ops") if d["kind"] == "NetworkPolicy"]
