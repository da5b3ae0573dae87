"""The control plane itself: versions, loopback-only addresses, scheduling, GC, RBAC, CRD validation."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from claude_code_devkit.cluster import EXPECTED_K8S_VERSION, Cluster, cluster_paths, non_loopback_pod_ips
from claude_code_devkit.waiting import wait_until


def test_apiserver_and_kubectl_are_the_pinned_version(cluster: Cluster) -> None:
    versions = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert versions["clientVersion"]["gitVersion"] == EXPECTED_K8S_VERSION
    if cluster.local:
        assert versions["serverVersion"]["gitVersion"] == EXPECTED_K8S_VERSION


def _listening_addresses(pid: int) -> set[str]:
    """host:port of every TCP socket process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            hex_ip, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_ip)
            if width == 8:
                host = ".".join(str(b) for b in reversed(raw))
            else:  # four little-endian 32-bit words
                words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                host = "[" + b"".join(words).hex(":", 2) + "]"
            found.add(f"{host}:{int(hex_port, 16)}")
    return found


def test_control_plane_listens_and_advertises_on_loopback_only(cluster: Cluster, core: client.CoreV1Api) -> None:
    if not cluster.local:
        pytest.skip("checks the local kwok cluster's processes; E2E_KUBECONFIG names another cluster")
    pid_dir = Path(cluster_paths()["CLUSTER_DIR"]) / "pids"
    pids = {p.stem: int(p.read_text().strip()) for p in pid_dir.glob("*.pid")}
    assert {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller"} <= set(pids)
    listening = {name: _listening_addresses(pid) for name, pid in pids.items()}
    assert listening["kube-apiserver"], "the apiserver listens nowhere?"
    not_loopback = {
        name: sorted(a for a in addrs if not a.startswith(("127.", "[0000:0000:0000:0000:0000:0000:0000:0001]")))
        for name, addrs in listening.items()
    }
    assert not any(not_loopback.values()), f"non-loopback listeners: {not_loopback}"
    # The apiserver advertises 127.0.0.1 (--advertise-address). Endpoints may not hold loopback
    # addresses, so the `kubernetes` Service gets none; what matters is that no other address shows.
    endpoints = core.list_namespaced_endpoints("default", field_selector="metadata.name=kubernetes").items
    addresses = [a.ip for e in endpoints for s in e.subsets or [] for a in s.addresses or []]
    assert all(ip.startswith("127.") for ip in addresses), addresses
    node_ips = [a.address for n in core.list_node().items for a in n.status.addresses or []]
    assert node_ips, "the fake node reports no addresses"
    assert all(ip.startswith("127.") for ip in node_ips if ip[0].isdigit()), node_ips


def test_deployment_pods_are_scheduled_ready_and_loopback(
    cluster: Cluster, api: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(
                        containers=[client.V1Container(name="main", image="registry.k8s.io/pause:3.10")]
                    ),
                ),
            ),
        ),
    )
    wait_until(
        lambda: (apps.read_namespaced_deployment_status("web", namespace).status.ready_replicas or 0) == 3,
        timeout=90,
        what="3 ready replicas of deployment web",
    )
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name, f"{pod.metadata.name} was not scheduled"
        assert pod.status.phase == "Running"
        ready = {c.type: c.status for c in pod.status.conditions}
        assert ready.get("Ready") == "True", pod.status.conditions
        assert pod.status.pod_ip
    assert len({p.status.pod_ip for p in pods}) == 3, "pod IPs are not unique"
    if cluster.local:
        assert non_loopback_pod_ips(pods) == []


def test_deleting_an_owner_garbage_collects_its_dependents(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"), data={"k": "v"})
    )
    ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    for i in range(3):
        core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"dependent-{i}", owner_references=[ref])),
        )
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

    def dependents() -> list[str]:
        return [
            c.metadata.name for c in core.list_namespaced_config_map(namespace).items if "dependent" in c.metadata.name
        ]

    wait_until(lambda: dependents() == [], timeout=60, what="the garbage collector to delete the dependents")


def test_service_account_token_has_exactly_its_roles_rights(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, sa_kubeconfig
) -> None:  # type: ignore[no-untyped-def]
    rbac = client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="narrow"))
    )
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="read-configmaps"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="narrow-reads-configmaps"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="read-configmaps"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="narrow", namespace=namespace)],
        ),
    )
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="visible")))
    path = sa_kubeconfig(namespace, "narrow")
    with config.new_client_from_config(config_file=str(path)) as narrow_api:
        narrow = client.CoreV1Api(narrow_api)
        # RBAC changes reach the authorizer's informer within moments; poll, don't sleep.
        names = wait_until(
            lambda: [c.metadata.name for c in narrow.list_namespaced_config_map(namespace).items],
            timeout=30,
            what="the Role to take effect",
            ignore=(ApiException,),
        )
        assert "visible" in names
        assert narrow.read_namespaced_config_map("visible", namespace).metadata.name == "visible"
        forbidden = [
            lambda: narrow.list_namespaced_secret(namespace),
            lambda: narrow.create_namespaced_config_map(
                namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="nope"))
            ),
            lambda: narrow.delete_namespaced_config_map("visible", namespace),
            lambda: narrow.list_namespaced_config_map("default"),
            narrow.list_namespace,
        ]
        for call in forbidden:
            with pytest.raises(ApiException) as err:
                call()
            assert err.value.status == 403, err.value
        whoami = client.AuthenticationV1Api(narrow_api).create_self_subject_review(
            client.V1SelfSubjectReview(metadata=client.V1ObjectMeta())
        )
        assert whoami.status.user_info.username == f"system:serviceaccount:{namespace}:narrow"


def test_crd_with_structural_schema_rejects_invalid_objects(api: client.ApiClient, namespace: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    group = f"e2e-{secrets.token_hex(3)}.example.com"
    name = f"widgets.{group}"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "colour": {"type": "string", "enum": ["red", "blue"]},
                },
            }
        },
    }
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
            },
        }
    )
    try:

        def established() -> bool:
            crd = ext.read_custom_resource_definition(name)
            return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

        wait_until(established, timeout=30, what=f"CRD {name} to be Established")

        def widget(obj_name: str, spec: dict[str, object]) -> dict[str, object]:
            return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": obj_name}, "spec": spec}

        # Right after Established the new resource may take a moment to be served.
        wait_until(
            lambda: custom.create_namespaced_custom_object(
                group, "v1", namespace, "widgets", widget("good", {"size": 3, "colour": "red"})
            ),
            timeout=30,
            what="a valid Widget to be accepted",
            ignore=(ApiException,),
        )
        for bad_spec in ({"size": "big"}, {"size": 11}, {"colour": "red"}, {"size": 2, "colour": "green"}):
            with pytest.raises(ApiException) as err:
                custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", widget("bad", bad_spec))
            assert err.value.status == 422, (bad_spec, err.value)
        assert [
            w["metadata"]["name"]
            for w in custom.list_namespaced_custom_object(group, "v1", namespace, "widgets")["items"]
        ] == ["good"]
    finally:
        ext.delete_custom_resource_definition(name)

        def crd_gone() -> bool:
            try:
                ext.read_custom_resource_definition(name)
            except ApiException as exc:
                return exc.status == 404
            return False

        wait_until(crd_gone, timeout=60, what=f"CRD {name} to be deleted")


def test_sa_kubeconfig_points_at_loopback(cluster: Cluster, sa_kubeconfig, namespace: str) -> None:  # type: ignore[no-untyped-def]
    import yaml

    path: Path = sa_kubeconfig(namespace, "default")
    server = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"]
    if cluster.local:
        assert server.startswith("https://127.0.0.1:"), server
