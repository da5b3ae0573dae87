"""`make demo` picks its login: a fake one offline, else CLAUDE_CODE_OAUTH_TOKEN, else the CLI's file."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_code_devkit.demo.steps import derive_login, has_login


def test_offline_is_a_fresh_fake_token_even_with_a_login_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-real")
    first, second = derive_login(True, tmp_path), derive_login(True, tmp_path)
    assert set(first) == {"oauth-token"}
    assert first["oauth-token"].startswith("sk-ant-oat01-demo-offline-")
    assert first != second
    assert "real" not in first["oauth-token"]


def test_the_credentials_file_is_copied_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its refresh token is single-use: a pod that refreshes it signs this machine's CLI out.
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text('{"claudeAiOauth": {}}')
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    monkeypatch.delenv("DEMO_USE_CREDENTIALS_FILE", raising=False)
    assert not has_login(tmp_path)


def test_the_token_wins_over_the_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text('{"claudeAiOauth": {}}')
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    monkeypatch.setenv("DEMO_USE_CREDENTIALS_FILE", "1")
    assert has_login(tmp_path)
    assert derive_login(False, tmp_path) == {".credentials.json": '{"claudeAiOauth": {}}'}
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-x")
    assert derive_login(False, tmp_path) == {"oauth-token": "sk-ant-oat01-x"}


def test_no_login_at_all_is_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    assert not has_login(tmp_path)
