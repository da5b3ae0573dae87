"""The pod's own API access for write-back: a ServiceAccount whose Role may get and patch the login Secret
(by name) and nothing else, and egress to the API server's real addresses (when the operator knows them).
Rendered only while write-back is on; owned by the resource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api.resource import Provider
from ..config import ApiServerEndpoint
from . import names
from .network import render_write_back_egress

_RBAC = "rbac.authorization.k8s.io"


def render_write_back_access(provider: Provider, api_server: Sequence[ApiServerEndpoint]) -> list[dict[str, Any]]:
    name = names.service_account_name(provider.name)
    role = {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "Role",
        "metadata": names.metadata(provider, name),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [provider.spec.credentials.secret_name],
                "verbs": ["get", "patch"],
            }
        ],
    }
    binding = {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": names.metadata(provider, name),
        "roleRef": {"apiGroup": _RBAC, "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": provider.namespace}],
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": names.metadata(provider, name),
        "automountServiceAccountToken": False,  # only the pod that needs it mounts a token (pod spec)
    }
    return [account, role, binding, *([render_write_back_egress(provider, api_server)] if api_server else [])]
