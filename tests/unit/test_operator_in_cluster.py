"""In a pod the operator reaches the API server where the kubelet's environment says, not through the
cluster's DNS name (kopf's ServiceAccount reader names https://kubernetes.default.svc)."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from claude_code_operator import handlers
from claude_code_operator.kube.in_cluster import derive_in_cluster_server


@pytest.mark.parametrize(
    ("environ", "server"),
    [
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, "https://10.96.0.1:443"),
        ({"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"}, "https://[fd00:10:96::1]:443"),
        ({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "32764"}, "https://127.0.0.1:32764"),
        ({}, None),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, None),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "https"}, None),
    ],
)
def test_the_api_server_comes_from_the_kubelets_environment(environ: dict[str, str], server: str | None) -> None:
    assert derive_in_cluster_server(environ) == server


def _account(**_: Any) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="t", ca_path="/ca.crt")


def test_the_service_account_login_keeps_its_token_and_ca_and_takes_the_kubelets_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kopf, "login_with_service_account", _account)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    info = handlers.login()
    assert info is not None
    assert (info.server, info.token, info.ca_path) == ("https://10.96.0.1:6443", "t", "/ca.crt")


def test_without_the_kubelets_environment_the_service_account_login_is_kopfs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kopf, "login_with_service_account", _account)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    info = handlers.login()
    assert info is not None
    assert info.server == "https://kubernetes.default.svc"


def test_outside_a_pod_the_kubeconfig_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: None)
    monkeypatch.setattr(
        kopf, "login_with_kubeconfig", lambda **_: kopf.ConnectionInfo(server="https://from-kubeconfig")
    )
    info = handlers.login()
    assert info is not None
    assert info.server == "https://from-kubeconfig"
