"""A login error says how to log in where the provider runs: on a laptop, with the bundled CLI here; in a
pod, with `kubectl claude-code login` from a laptop or `claude auth login` inside the pod."""

from __future__ import annotations

import pytest

from claude_code_operator.render.names import pod_name
from claude_code_provider.engine.settings import EngineSettings
from claude_code_provider.errors import ClaudeCodeError, ErrorKind, derive_pod_login_hint
from claude_code_provider.runtime.settings import RuntimeSettings


def test_the_laptop_hint_names_the_commands_that_log_in_here() -> None:
    hint = EngineSettings().login_hint
    assert hint.startswith("Log in on this machine with `make login`")
    assert "`claude auth login` with the Claude Code CLI bundled in claude-code-provider" in hint
    assert "`make setup-token`" in hint
    assert "CLAUDE_CODE_OAUTH_TOKEN" in hint
    assert "Secret" not in hint, "a laptop has no credentials Secret"


def test_the_pod_hint_names_the_provider_namespace_and_pod() -> None:
    assert derive_pod_login_hint("alice-claude-code", "team") == (
        "Log in again from a laptop with `claude setup-token`, then "
        "`kubectl claude-code login -n team --name alice --token-stdin` (or "
        "`kubectl claude-code login -n team --name alice` to copy that laptop's `claude auth login`), or in the "
        "pod with `kubectl exec -it alice-claude-code -n team -c claude -- claude auth login`."
    )


def test_the_pod_hint_has_placeholders_for_what_the_runtime_cannot_know() -> None:
    hint = derive_pod_login_hint("some-host", None)
    assert "`kubectl claude-code login -n NAMESPACE --name NAME --token-stdin`" in hint
    assert "`kubectl exec -it some-host -n NAMESPACE -c claude -- claude auth login`" in hint


def test_the_runtime_reads_its_pod_and_namespace() -> None:
    settings = RuntimeSettings.from_env({"HOSTNAME": "bob-claude-code", "CLAUDE_LOGIN_SECRET_NAMESPACE": "ns1"})
    assert (settings.pod_name, settings.namespace) == ("bob-claude-code", "ns1")


def test_the_pod_name_suffix_is_the_operators() -> None:
    assert derive_pod_login_hint(pod_name("carol"), "x").count("--name carol") == 2


@pytest.mark.parametrize("kind", [ErrorKind.NOT_LOGGED_IN, ErrorKind.LOGIN_REVOKED])
def test_errors_a_new_login_cures_end_with_the_hint(kind: ErrorKind) -> None:
    error = ClaudeCodeError(kind, "Not logged in.").with_login_hint("Run this.")
    assert (error.kind, error.message) == (kind, "Not logged in. Run this.")


@pytest.mark.parametrize("kind", [ErrorKind.OAUTH_NOT_ALLOWED, ErrorKind.ORGANIZATION_DISABLED, ErrorKind.USAGE_LIMIT])
def test_other_errors_get_no_login_hint(kind: ErrorKind) -> None:
    error = ClaudeCodeError(kind, "m", retry_after=3)
    assert error.with_login_hint("Run this.") is error
