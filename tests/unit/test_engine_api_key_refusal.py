"""The engine refuses a request before any CLI process starts when an API key would reach the CLI.

Without CLAUDE_CONFIG_DIR the CLI reads its settings from ``~/.claude/settings.json`` but its state
(with ``primaryApiKey``) from ``~/.claude.json`` in the home directory, not inside ``~/.claude``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from claude_code_provider.engine.engine import Engine
from claude_code_provider.engine.settings import EngineSettings
from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.protocol import ChatTurn, CompletionRequest

KEY = "sk-ant-api03-THE-SECRET-KEY"
REQUEST = CompletionRequest(model="claude-sonnet-4-5", messages=[ChatTurn(role="user", content="hi")])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("CLAUDE_AGENT_SDK_SKIP_VERSION_CHECK", "1")
    return home


async def refusal(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> ClaudeCodeError:
    async def no_cli(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the engine went on to start Claude Code although an API key would reach it")

    # The one place the SDK starts a CLI process: a test that fails must not start one either.
    monkeypatch.setattr(SubprocessCLITransport, "connect", no_cli)
    with pytest.raises(ClaudeCodeError) as caught:
        await anext(engine.complete(REQUEST))
    return caught.value


async def test_api_key_helper_in_the_default_settings_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / ".claude" / "settings.json").write_text(json.dumps({"apiKeyHelper": f"echo {KEY}"}))
    error = await refusal(Engine(EngineSettings(scratch_root=tmp_path / "scratch")), monkeypatch)
    assert error.kind is ErrorKind.API_KEY_REFUSED
    assert "apiKeyHelper" in error.message
    assert KEY not in error.message


async def test_primary_api_key_in_the_default_state_file_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / ".claude.json").write_text(json.dumps({"primaryApiKey": KEY}))
    error = await refusal(Engine(EngineSettings(scratch_root=tmp_path / "scratch")), monkeypatch)
    assert error.kind is ErrorKind.API_KEY_REFUSED
    assert "primaryApiKey" in error.message
    assert KEY not in error.message


async def test_primary_api_key_in_a_configured_config_dir_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / ".claude.json").write_text(json.dumps({"primaryApiKey": KEY}))
    engine = Engine(EngineSettings(scratch_root=tmp_path / "scratch", config_dir=config_dir))
    error = await refusal(engine, monkeypatch)
    assert error.kind is ErrorKind.API_KEY_REFUSED
    assert "primaryApiKey" in error.message


async def test_a_provider_switch_in_the_settings_env_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / ".claude" / "settings.json").write_text(json.dumps({"env": {"CLAUDE_CODE_USE_BEDROCK": "1"}}))
    error = await refusal(Engine(EngineSettings(scratch_root=tmp_path / "scratch")), monkeypatch)
    assert error.kind is ErrorKind.API_KEY_REFUSED
    assert "CLAUDE_CODE_USE_BEDROCK" in error.message
