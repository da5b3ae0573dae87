"""Where a pod finds the API server: as client-go's InClusterConfig and lightkube do, from the
KUBERNETES_SERVICE_HOST/PORT the kubelet sets, so the operator needs no cluster DNS to reach it (kopf's
ServiceAccount reader names https://kubernetes.default.svc, which does)."""

from __future__ import annotations

from collections.abc import Mapping


def derive_in_cluster_server(environ: Mapping[str, str]) -> str | None:
    """`https://host:port` from the kubelet's environment, None outside a pod (or where it is incomplete)."""
    host = environ.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = environ.get("KUBERNETES_SERVICE_PORT", "").strip()
    if not host or not port.isdigit():
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
