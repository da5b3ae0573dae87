"""The chart's aggregated ClusterRoles on the real control plane: a namespace editor (the built-in `edit`
role, nothing of the chart bound to them) manages providers but not their status; a viewer reads them."""

from __future__ import annotations

from pathlib import Path

import yaml

from claude_code_devkit.cluster import Cluster, service_account_kubeconfig
from claude_code_devkit.operator_process import CHART
from claude_code_devkit.waiting import wait_until

PROVIDER = (
    "apiVersion: claudecode.dev/v1alpha1\nkind: ClaudeCodeProvider\nmetadata: {name: alice}\n"
    "spec: {credentials: {secretName: alice-login}, owner: alice@example.com}\n"
)


def test_namespace_editors_manage_providers_and_viewers_read_them(
    cluster: Cluster, namespace: str, tmp_path: Path, claude_code_crd: None
) -> None:
    release = f"roles-{namespace[-6:]}"
    roles = f"{release}-claude-code-operator-edit", f"{release}-claude-code-operator-view"
    rendered = cluster.helm(
        "template", release, str(CHART), "--namespace", namespace,
        "--show-only", "templates/rbac-aggregated.yaml", helm_home=tmp_path / "helm",
    ).stdout  # fmt: skip
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert sorted(doc["metadata"]["name"] for doc in docs) == sorted(roles)
    manifest = tmp_path / "roles.yaml"
    manifest.write_text(rendered)
    try:
        cluster.kubectl("apply", "-f", str(manifest))
        for who, role in (("editor", "edit"), ("viewer", "view")):
            cluster.kubectl("create", "serviceaccount", who, "-n", namespace)
            cluster.kubectl(
                "create", "rolebinding", who, f"--clusterrole={role}",
                f"--serviceaccount={namespace}:{who}", "-n", namespace,
            )  # fmt: skip

        def can(who: str, verb: str, resource: str) -> bool:
            answer = cluster.kubectl(
                "auth", "can-i", verb, resource, "-n", namespace,
                f"--as=system:serviceaccount:{namespace}:{who}", check=False,
            )  # fmt: skip
            return answer.stdout.strip() == "yes"

        # The controller manager folds the chart's rules into edit and view a moment after they exist.
        wait_until(
            lambda: (
                can("editor", "create", "claudecodeproviders.claudecode.dev")
                and can("viewer", "list", "claudecodeproviders.claudecode.dev")
            ),
            timeout=60,
            what="the chart's roles to be aggregated into edit and view",
        )
        resource = tmp_path / "alice.yaml"
        resource.write_text(PROVIDER)
        editor = service_account_kubeconfig(cluster, namespace, "editor", tmp_path / "editor.kubeconfig")
        viewer = service_account_kubeconfig(cluster, namespace, "viewer", tmp_path / "viewer.kubeconfig")

        created = cluster.kubectl("apply", "-n", namespace, "-f", str(resource), kubeconfig=editor)
        assert "claudecodeprovider.claudecode.dev/alice created" in created.stdout
        listed = cluster.kubectl("get", "ccp", "-n", namespace, "-o", "name", kubeconfig=viewer)
        assert listed.stdout.split() == ["claudecodeprovider.claudecode.dev/alice"]

        status = '{"status":{"phase":"Ready"}}'
        forged = cluster.kubectl(
            "patch", "ccp", "alice", "-n", namespace, "--subresource=status", "--type=merge", "-p", status,
            kubeconfig=editor, check=False,
        )  # fmt: skip
        assert forged.returncode != 0
        assert "forbidden" in forged.stderr.lower(), forged.stderr
        refused = cluster.kubectl("delete", "ccp", "alice", "-n", namespace, kubeconfig=viewer, check=False)
        assert refused.returncode != 0
        assert "forbidden" in refused.stderr.lower(), refused.stderr
        deleted = cluster.kubectl("delete", "ccp", "alice", "-n", namespace, "--wait=false", kubeconfig=editor)
        assert "deleted" in deleted.stdout
    finally:
        cluster.kubectl("delete", "ccp", "alice", "-n", namespace, "--ignore-not-found", "--wait=false")
        cluster.kubectl("delete", "clusterrole", *roles, "--ignore-not-found")
