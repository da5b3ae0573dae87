"""One version: the chart's appVersion is what `make images` tags, what the packages and the Dockerfiles
say, and what the chart and the operator run by default. A bump that misses one of them fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from claude_code_operator.api.spec import DEFAULT_IMAGE, DEFAULT_IMAGE_REPOSITORY

REPO = Path(__file__).resolve().parents[2]
CHART = yaml.safe_load((REPO / "charts/claude-code-operator/Chart.yaml").read_text())
APP_VERSION = CHART["appVersion"]


def image_tags() -> dict[str, str]:
    """Component -> the reference `make images` tags (images/build.sh: `$REGISTRY/claude-code-<component>:$VERSION`,
    VERSION read from Chart.yaml's appVersion)."""
    script = (REPO / "images/build.sh").read_text()
    registry = re.search(r"^REGISTRY=\$\{IMAGE_REGISTRY:-(\S+)\}$", script, re.M)
    assert registry, "images/build.sh: no default REGISTRY"
    assert 'echo "$REGISTRY/claude-code-$1:$VERSION"' in script
    assert "charts/claude-code-operator/Chart.yaml" in re.search(r"^VERSION=.*$", script, re.M).group(0)
    components = re.search(r"^COMPONENTS=\((.*)\)$", script, re.M).group(1).split()
    return {c: f"{registry.group(1)}/claude-code-{c}:{APP_VERSION}" for c in components}


def test_the_chart_is_released_at_its_app_version() -> None:
    # The release workflow pushes both images and the chart under one tag, v<appVersion>.
    assert CHART["version"] == APP_VERSION


@pytest.mark.parametrize("package", ["operator", "provider"])
def test_each_package_has_the_app_version(package: str) -> None:
    assert tomllib.loads((REPO / package / "pyproject.toml").read_text())["project"]["version"] == APP_VERSION


@pytest.mark.parametrize("package", ["operator", "provider"])
def test_each_dockerfile_labels_the_app_version_by_default(package: str) -> None:
    defaults = re.findall(r"^ARG VERSION=(\S+)$", (REPO / package / "Dockerfile").read_text(), re.M)
    assert defaults == [APP_VERSION]


def test_make_images_tags_what_the_chart_and_the_operator_run() -> None:
    values = yaml.safe_load((REPO / "charts/claude-code-operator/values.yaml").read_text())
    assert values["image"]["tag"] == ""  # the chart's appVersion
    assert image_tags() == {
        "operator": f"{values['image']['repository']}:{APP_VERSION}",
        "provider": DEFAULT_IMAGE,
    }
    assert values["allowedImages"] == [DEFAULT_IMAGE_REPOSITORY]
