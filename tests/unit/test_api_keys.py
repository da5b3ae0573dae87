"""Every way an Anthropic API key could reach the CLI is found by name, and refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_code_provider.auth.api_keys import find_api_key_sources, refuse_api_keys
from claude_code_provider.errors import ClaudeCodeError, ErrorKind

KEY = "sk-ant-api03-THE-SECRET-KEY"


@pytest.mark.parametrize("variable", ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
def test_environment_variables_are_found_by_name(variable: str) -> None:
    sources = find_api_key_sources({variable: KEY, "PATH": "/bin"}, None)
    assert sources == [f"the {variable} environment variable"]
    assert KEY not in "".join(sources)


def test_blank_environment_variables_are_not_a_source() -> None:
    assert find_api_key_sources({"ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": ""}, None) == []


def test_api_key_helper_in_settings_is_found(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"apiKeyHelper": f"echo {KEY}"}))
    sources = find_api_key_sources({}, tmp_path)
    assert len(sources) == 1
    assert "apiKeyHelper" in sources[0]
    assert str(tmp_path / "settings.json") in sources[0]
    assert KEY not in sources[0]


def test_primary_api_key_in_state_file_is_found(tmp_path: Path) -> None:
    (tmp_path / ".claude.json").write_text(json.dumps({"primaryApiKey": KEY, "numStartups": 3}))
    sources = find_api_key_sources({}, tmp_path)
    assert len(sources) == 1
    assert "primaryApiKey" in sources[0]
    assert KEY not in sources[0]


def test_all_sources_together(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"apiKeyHelper": "helper"}))
    (tmp_path / ".claude.json").write_text(json.dumps({"primaryApiKey": KEY}))
    sources = find_api_key_sources({"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_AUTH_TOKEN": KEY}, tmp_path)
    assert len(sources) == 4


def test_oauth_only_login_has_no_sources(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"model": "opus"}))
    (tmp_path / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "a@example.com"}}))
    (tmp_path / ".credentials.json").write_text(json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-x"}}))
    assert find_api_key_sources({"HOME": "/root"}, tmp_path) == []


def test_missing_or_unreadable_files_are_no_source(tmp_path: Path) -> None:
    assert find_api_key_sources({}, tmp_path / "absent") == []
    (tmp_path / "settings.json").write_text("{not json")
    (tmp_path / ".claude.json").write_text('["primaryApiKey"]')
    assert find_api_key_sources({}, tmp_path) == []


def test_refusal_names_the_sources_and_litellms_anthropic_provider() -> None:
    with pytest.raises(ClaudeCodeError) as caught:
        refuse_api_keys(["the ANTHROPIC_API_KEY environment variable"])
    error = caught.value
    assert error.kind is ErrorKind.API_KEY_REFUSED
    assert error.status == 400
    assert "ANTHROPIC_API_KEY" in error.message
    assert "`anthropic/`" in error.message


def test_no_sources_no_refusal() -> None:
    refuse_api_keys([])
