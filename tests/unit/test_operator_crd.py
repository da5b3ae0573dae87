"""The CRD: generated from the models, kept in sync with crds/ and the chart, structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from claude_code_operator.api.crd import render_crd, render_crd_template, render_crd_yaml
from claude_code_operator.api.spec import ClaudeCodeProviderSpec

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "claude-code-operator"
GENERATED = [
    (REPO / "crds" / "claudecodeproviders.claudecode.dev.yaml", render_crd_yaml),
    (CHART / "templates" / "crd-claudecodeproviders.yaml", render_crd_template),
]


@pytest.mark.parametrize(
    ("path", "render"), GENERATED, ids=lambda p: str(p.relative_to(REPO)) if isinstance(p, Path) else ""
)
def test_checked_in_crd_matches_generation(path: Path, render: Any) -> None:
    assert path.read_text() == render(), f"{path} is stale: run `make crds`"


def test_chart_template_is_the_crd_kept_on_uninstall() -> None:
    lines = render_crd_template().splitlines()
    assert lines[1] == "{{- if .Values.crds.install }}"
    assert lines[-1] == "{{- end }}"
    crd = yaml.safe_load("\n".join(lines[2:-1]))
    assert crd["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert crd == render_crd()
    assert not (CHART / "crds" / "claudecodeproviders.claudecode.dev.yaml").exists(), "helm would install it twice"


def _walk(node: Any, where: str = "") -> list[str]:
    """Paths of schema nodes that break structural-schema rules (untyped, anyOf, $ref, closed objects)."""
    problems = []
    if not isinstance(node, dict):
        return problems
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{where}: no type")
    for banned in ("$ref", "anyOf", "allOf", "oneOf", "title"):
        if banned in node:
            problems.append(f"{where}: {banned}")
    if isinstance(node.get("additionalProperties"), bool):
        problems.append(f"{where}: additionalProperties bool")
    for name, child in (node.get("properties") or {}).items():
        problems += _walk(child, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            problems += _walk(node[key], f"{where}[{key}]")
    return problems


def test_schema_is_structural_and_declares_every_status_field() -> None:
    version = render_crd()["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert _walk(schema) == []
    status = schema["properties"]["status"]["properties"]
    assert set(status) == {"phase", "conditions", "endpoint", "auth", "podName", "observedGeneration", "usage"}
    assert set(status["usage"]["items"]["properties"]) == {"window", "utilization", "resetsAt"}
    assert set(status["auth"]["properties"]) == {
        "loggedIn", "method", "subscriptionType", "expiresAt", "rateLimitedUntil", "message",
        "loginKind", "loginExpiresAt", "writeBack",
    }  # fmt: skip
    condition = status["conditions"]["items"]
    assert set(condition["properties"]) == {
        "type", "status", "reason", "message", "observedGeneration", "lastTransitionTime",
    }  # fmt: skip
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    assert version["subresources"] == {"status": {}}
    assert schema["properties"]["spec"]["properties"]["credentials"]["required"] == ["secretName"]


def test_printer_columns_select_conditions_by_type() -> None:
    crd = render_crd()
    assert crd["spec"]["names"]["shortNames"] == ["ccp"]
    assert crd["spec"]["scope"] == "Namespaced"
    columns = {c["name"]: c["jsonPath"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert list(columns) == ["Ready", "Phase", "Auth", "Subscription", "Used%", "Endpoint", "Age"]
    assert columns["Used%"] == ".status.usage[0].utilization"  # status.usage is kept most used first
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert '@.type=="Authenticated"' in columns["Auth"]


def test_every_cel_message_names_its_field() -> None:
    text = yaml.safe_dump(render_crd())
    rules = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            rules.extend(node.get("x-kubernetes-validations", []))
            for child in node.values():
                collect(child)
        elif isinstance(node, list):
            for child in node:
                collect(child)

    collect(render_crd())
    assert len(rules) >= 4, text
    for rule in rules:
        assert rule["message"].split(" ")[0].startswith(("spec.", "metadata.")), rule


def test_minimal_spec_gets_documented_defaults() -> None:
    spec = ClaudeCodeProviderSpec.model_validate({"credentials": {"secretName": "alice-login"}})
    assert spec.credentials.credentials_key == ".credentials.json"
    assert spec.credentials.claude_json_key == ".claude.json"
    assert spec.credentials.oauth_token_key == "oauth-token"
    assert spec.models == {"sonnet": "sonnet", "opus": "opus", "haiku": "haiku"}
    assert (spec.service.type, spec.service.port) == ("ClusterIP", 4000)
    assert spec.allow_from == []
    assert spec.suspend is False
    assert spec.master_key_secret is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"credentials": {"secretName": ""}}, "credentials.secretName"),
        ({"credentials": {}}, "credentials.secretName"),
        ({"credentials": {"secretName": "a"}, "colour": "red"}, "colour"),
        ({"credentials": {"secretName": "a"}, "service": {"port": 70000}}, "service.port"),
        ({"credentials": {"secretName": "a"}, "probe": {"intervalSeconds": 1}}, "probe.intervalSeconds"),
    ],
)
def test_python_side_refuses_what_the_crd_refuses(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        ClaudeCodeProviderSpec.model_validate(spec)
    assert field in str(err.value).replace("\n", ".").replace(" ", "")
