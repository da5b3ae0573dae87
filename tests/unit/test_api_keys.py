"""Every way an Anthropic API key could reach the CLI by itself is found by name, and refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_code_provider.auth.api_keys import find_api_key_sources, refuse_api_keys
from claude_code_provider.errors import ClaudeCodeError, ErrorKind

KEY = "sk-ant-api03-THE-SECRET-KEY"


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """A machine's managed-settings directory and fixed key-file location, empty to begin with."""
    (tmp_path / "managed").mkdir()
    return tmp_path


def find(config_dir: Path | None, machine: Path) -> list[str]:
    return find_api_key_sources(config_dir, managed_dir=machine / "managed", key_file=machine / "remote" / ".api_key")


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_api_key_helper_in_settings_is_found(tmp_path: Path, machine: Path) -> None:
    write_json(tmp_path / "settings.json", {"apiKeyHelper": f"echo {KEY}"})
    sources = find(tmp_path, machine)
    assert len(sources) == 1
    assert "apiKeyHelper" in sources[0]
    assert str(tmp_path / "settings.json") in sources[0]
    assert KEY not in sources[0]


def test_primary_api_key_in_state_file_is_found(tmp_path: Path, machine: Path) -> None:
    write_json(tmp_path / ".claude.json", {"primaryApiKey": KEY, "numStartups": 3})
    sources = find(tmp_path, machine)
    assert len(sources) == 1
    assert "primaryApiKey" in sources[0]
    assert KEY not in sources[0]


@pytest.mark.parametrize("path", ["managed-settings.json", "managed-settings.d/10-keys.json"])
def test_api_key_helper_in_managed_settings_is_found(tmp_path: Path, machine: Path, path: str) -> None:
    write_json(machine / "managed" / path, {"apiKeyHelper": "/usr/local/bin/key"})
    sources = find(tmp_path / "config", machine)
    assert sources == [f"an apiKeyHelper in {machine / 'managed' / path}"]


# Written out: a variable removed from the code's deny-list must fail here, not lose its case.
DENIED_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)


@pytest.mark.parametrize("variable", DENIED_VARIABLES)
def test_a_key_or_provider_switch_in_a_settings_env_block_is_found(
    tmp_path: Path, machine: Path, variable: str
) -> None:
    write_json(tmp_path / "settings.json", {"env": {variable: KEY, "FOO": "bar"}})
    write_json(machine / "managed" / "managed-settings.json", {"env": {variable: "1"}})
    sources = find(tmp_path, machine)
    assert sources == [
        f"{variable} in the env of {tmp_path / 'settings.json'}",
        f"{variable} in the env of {machine / 'managed' / 'managed-settings.json'}",
    ]
    assert KEY not in "".join(sources)


def test_the_cli_s_fixed_api_key_file_is_found(tmp_path: Path, machine: Path) -> None:
    (machine / "remote").mkdir()
    (machine / "remote" / ".api_key").write_text(KEY)
    assert find(tmp_path, machine) == [f"the API key file {machine / 'remote' / '.api_key'}"]


def test_all_sources_together(tmp_path: Path, machine: Path) -> None:
    write_json(tmp_path / "settings.json", {"apiKeyHelper": "helper", "env": {"ANTHROPIC_API_KEY": KEY}})
    write_json(tmp_path / ".claude.json", {"primaryApiKey": KEY})
    write_json(machine / "managed" / "managed-settings.json", {"apiKeyHelper": "helper"})
    assert len(find(tmp_path, machine)) == 4


def test_oauth_only_login_has_no_sources(tmp_path: Path, machine: Path) -> None:
    write_json(
        tmp_path / "settings.json", {"model": "opus", "env": {"DISABLE_TELEMETRY": "1", "ANTHROPIC_API_KEY": ""}}
    )
    write_json(tmp_path / ".claude.json", {"oauthAccount": {"emailAddress": "a@example.com"}})
    write_json(tmp_path / ".credentials.json", {"claudeAiOauth": {"accessToken": "sk-ant-oat01-x"}})
    write_json(machine / "managed" / "managed-settings.json", {"permissions": {"deny": ["Bash"]}})
    assert find(tmp_path, machine) == []


def test_missing_or_unreadable_files_are_no_source(tmp_path: Path, machine: Path) -> None:
    assert find(tmp_path / "absent", machine) == []
    (tmp_path / "settings.json").write_text("{not json")
    (tmp_path / ".claude.json").write_text('["primaryApiKey"]')
    write_json(machine / "managed" / "managed-settings.json", ["apiKeyHelper"])
    assert find(tmp_path, machine) == []


def test_refusal_names_the_sources_and_litellms_anthropic_provider() -> None:
    with pytest.raises(ClaudeCodeError) as caught:
        refuse_api_keys(["an apiKeyHelper in /etc/claude-code/managed-settings.json"])
    error = caught.value
    assert error.kind is ErrorKind.API_KEY_REFUSED
    assert error.status == 400
    assert "apiKeyHelper" in error.message
    assert "`anthropic/`" in error.message


def test_no_sources_no_refusal() -> None:
    refuse_api_keys([])
