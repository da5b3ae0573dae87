"""One pod per login, judged from pods: the login Secret's name on every provider pod, and any other pod
carrying it (terminating ones too) keeps a resource from starting its own."""

from __future__ import annotations

from typing import Any

from claude_code_operator.api.resource import Provider
from claude_code_operator.login_pods import derive_login_pod_in_the_way
from claude_code_operator.render.names import login_label
from claude_code_operator.render.pod import render_pod


def pod(name: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **meta}}


def test_a_provider_pod_carries_its_login_secrets_name() -> None:
    provider = Provider.from_body(
        {
            "metadata": {"name": "bob", "namespace": "team", "uid": "u", "generation": 1},
            "spec": {"credentials": {"secretName": "alice-login"}},
        }
    )
    labels = render_pod(provider, {"oauth-token": b"sk-ant-oat01-x"}, b"key")["metadata"]["labels"]
    assert labels["claudecode.dev/login-secret"] == "alice-login"


def test_a_long_secret_name_becomes_a_valid_label_value_of_its_own() -> None:
    long_name = "team." + "a" * 60 + ".login"
    value = login_label(long_name)
    assert len(value) == 63
    assert value.startswith("team.aaaa")
    assert value != login_label(long_name + "2")
    assert login_label("x" * 63) == "x" * 63


def test_only_another_pod_of_the_login_is_in_the_way_terminating_ones_included() -> None:
    assert derive_login_pod_in_the_way([], "bob-claude-code") is None
    assert derive_login_pod_in_the_way([pod("bob-claude-code")], "bob-claude-code") is None
    going = pod("alice-claude-code", deletionTimestamp="2026-01-02T03:04:05Z")
    assert derive_login_pod_in_the_way([pod("bob-claude-code"), going], "bob-claude-code") == "alice-claude-code"
    both = [pod("carol-claude-code"), pod("alice-claude-code")]
    assert derive_login_pod_in_the_way(both, "bob-claude-code") == "alice-claude-code"
