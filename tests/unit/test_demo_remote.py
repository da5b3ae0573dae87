"""Which cluster `make demo` uses, and the operator image it hands to helm."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_code_devkit.demo.remote import derive_allowed_image_values, derive_image_values, derive_remote_kubeconfig
from claude_code_devkit.demo.steps import DemoError


def test_no_kubeconfig_or_the_local_clusters_own_means_the_local_control_plane(tmp_path: Path) -> None:
    local = tmp_path / "cache" / "kubeconfig"
    local.parent.mkdir()
    local.write_text("{}")
    assert derive_remote_kubeconfig("", local) is None
    # `export KUBECONFIG=...` as `make cluster` prints it: still the local demo, not a "remote" one.
    assert derive_remote_kubeconfig(str(tmp_path / "cache" / ".." / "cache" / "kubeconfig"), local) is None


def test_another_kubeconfig_means_that_cluster(tmp_path: Path) -> None:
    other = tmp_path / "kind.yaml"
    other.write_text("{}")
    assert derive_remote_kubeconfig(str(other), tmp_path / "local") == str(other.resolve())


@pytest.mark.parametrize(
    ("value", "says"),
    [("/nowhere/config", "is not a file"), ("/a/config:/b/config", "needs one")],
)
def test_a_kubeconfig_the_demo_cannot_use_is_refused_with_the_fix(tmp_path: Path, value: str, says: str) -> None:
    with pytest.raises(DemoError, match=says):
        derive_remote_kubeconfig(value, tmp_path / "local")


@pytest.mark.parametrize(
    ("image", "flags"),
    [
        (None, []),
        ("registry.example:5000/team/operator", ["--set", "image.repository=registry.example:5000/team/operator"]),
        (
            "registry.example:5000/team/operator:v1.2",
            ["--set", "image.repository=registry.example:5000/team/operator", "--set", "image.tag=v1.2"],
        ),
        ("ghcr.io/me/op:dev", ["--set", "image.repository=ghcr.io/me/op", "--set", "image.tag=dev"]),
    ],
)
def test_operator_image_becomes_the_charts_repository_and_tag(image: str | None, flags: list[str]) -> None:
    assert derive_image_values(image) == flags


@pytest.mark.parametrize(
    ("image", "flags"),
    [
        (None, []),
        ("registry.example:5000/team/provider:v1", ["--set", "allowedImages={registry.example:5000/team/provider}"]),
        ("ghcr.io/me/provider@sha256:0123", ["--set", "allowedImages={ghcr.io/me/provider}"]),
    ],
)
def test_a_provider_image_of_ones_own_is_allowed_by_the_chart(image: str | None, flags: list[str]) -> None:
    assert derive_allowed_image_values(image) == flags
