"""The mounted login Secret is checked and copied where the CLI can write, without undoing refreshes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from claude_code_provider.auth.login import LoginError, install_login

TOKEN = "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789"
CREDENTIALS = {
    "claudeAiOauth": {
        "accessToken": "sk-ant-oat01-access",
        "refreshToken": "sk-ant-ort01-refresh",
        "expiresAt": 1_760_000_000_000,
        "scopes": ["user:inference"],
        "subscriptionType": "max",
    }
}
STATE = {"hasCompletedOnboarding": True, "oauthAccount": {"emailAddress": "a@example.com"}}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.mkdir()
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_oauth_token_only(secret: Path, config_dir: Path) -> None:
    (secret / "oauth-token").write_text(TOKEN + "\n")
    login = install_login(secret, config_dir)
    assert login.method == "oauth_token"
    assert isinstance(login.oauth_token, SecretStr)
    assert login.oauth_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(login)
    assert TOKEN not in str(login)
    assert not (config_dir / ".credentials.json").exists()


def test_credentials_are_copied_private_and_identical(secret: Path, config_dir: Path) -> None:
    content = json.dumps(CREDENTIALS, indent=2).encode()
    (secret / ".credentials.json").write_bytes(content)
    login = install_login(secret, config_dir)
    assert login.method == "credentials_file"
    assert login.oauth_token is None
    copy = config_dir / ".credentials.json"
    assert copy.read_bytes() == content
    assert mode(copy) == 0o600


def test_state_file_is_copied_private(secret: Path, config_dir: Path) -> None:
    (secret / "oauth-token").write_text(TOKEN)
    content = json.dumps(STATE).encode()
    (secret / ".claude.json").write_bytes(content)
    install_login(secret, config_dir)
    copy = config_dir / ".claude.json"
    assert copy.read_bytes() == content
    assert mode(copy) == 0o600


def test_token_wins_when_both_are_mounted(secret: Path, config_dir: Path) -> None:
    (secret / "oauth-token").write_text(TOKEN)
    (secret / ".credentials.json").write_text(json.dumps(CREDENTIALS))
    login = install_login(secret, config_dir)
    assert login.method == "oauth_token"
    assert (config_dir / ".credentials.json").is_file()


@pytest.mark.parametrize("name", [".credentials.json", ".claude.json"])
def test_malformed_json_is_refused_naming_the_file(secret: Path, config_dir: Path, name: str) -> None:
    if name == ".claude.json":
        (secret / "oauth-token").write_text(TOKEN)
    (secret / name).write_text('{"claudeAiOauth": {')
    with pytest.raises(LoginError) as caught:
        install_login(secret, config_dir)
    assert name in str(caught.value)
    assert "not valid JSON" in str(caught.value)
    assert not (config_dir / name).exists()


def test_json_that_is_not_an_object_is_refused(secret: Path, config_dir: Path) -> None:
    (secret / ".credentials.json").write_text('["sk-ant-oat01-x"]')
    with pytest.raises(LoginError, match=r"\.credentials\.json.*JSON object"):
        install_login(secret, config_dir)


@pytest.mark.parametrize(
    "content",
    [{"apiKey": "x"}, {"claudeAiOauth": {"refreshToken": "r"}}, {"claudeAiOauth": {"accessToken": ""}}],
)
def test_credentials_without_an_access_token_are_refused(secret: Path, config_dir: Path, content: object) -> None:
    (secret / ".credentials.json").write_text(json.dumps(content))
    with pytest.raises(LoginError) as caught:
        install_login(secret, config_dir)
    assert ".credentials.json" in str(caught.value)
    assert "claudeAiOauth.accessToken" in str(caught.value)


@pytest.mark.parametrize("content", ["sk-ant-oat01-abc def", "sk-ant-oat01-abc\nsk-ant-oat01-def", "   \n"])
def test_token_file_must_hold_one_token(secret: Path, config_dir: Path, content: str) -> None:
    (secret / "oauth-token").write_text(content)
    with pytest.raises(LoginError) as caught:
        install_login(secret, config_dir)
    assert "oauth-token" in str(caught.value)
    assert "abc" not in str(caught.value)


def test_an_empty_secret_is_refused_naming_the_expected_keys(secret: Path, config_dir: Path) -> None:
    with pytest.raises(LoginError) as caught:
        install_login(secret, config_dir)
    message = str(caught.value)
    assert "oauth-token" in message
    assert ".credentials.json" in message
    assert str(secret) in message


def test_a_state_file_alone_is_not_a_login(secret: Path, config_dir: Path) -> None:
    (secret / ".claude.json").write_text(json.dumps(STATE))
    with pytest.raises(LoginError, match="No Claude Code login"):
        install_login(secret, config_dir)


def test_restart_with_unchanged_secret_keeps_the_clis_refreshed_credentials(secret: Path, config_dir: Path) -> None:
    (secret / ".credentials.json").write_text(json.dumps(CREDENTIALS))
    install_login(secret, config_dir)
    refreshed = json.dumps({"claudeAiOauth": {**CREDENTIALS["claudeAiOauth"], "accessToken": "sk-ant-oat01-new"}})
    (config_dir / ".credentials.json").write_text(refreshed)

    install_login(secret, config_dir)

    assert (config_dir / ".credentials.json").read_text() == refreshed


def test_restart_with_unchanged_secret_keeps_the_clis_state_file(secret: Path, config_dir: Path) -> None:
    (secret / "oauth-token").write_text(TOKEN)
    (secret / ".claude.json").write_text(json.dumps(STATE))
    install_login(secret, config_dir)
    rewritten = json.dumps({**STATE, "numStartups": 7})
    (config_dir / ".claude.json").write_text(rewritten)

    install_login(secret, config_dir)

    assert (config_dir / ".claude.json").read_text() == rewritten


def test_a_changed_secret_overwrites_the_copy(secret: Path, config_dir: Path) -> None:
    (secret / ".credentials.json").write_text(json.dumps(CREDENTIALS))
    install_login(secret, config_dir)
    (config_dir / ".credentials.json").write_text(json.dumps({"claudeAiOauth": {"accessToken": "refreshed-old"}}))
    relogin = json.dumps({"claudeAiOauth": {**CREDENTIALS["claudeAiOauth"], "accessToken": "sk-ant-oat01-relogin"}})
    (secret / ".credentials.json").write_text(relogin)

    install_login(secret, config_dir)

    copy = config_dir / ".credentials.json"
    assert copy.read_text() == relogin
    assert mode(copy) == 0o600


def test_an_unchanged_secret_restores_a_deleted_copy(secret: Path, config_dir: Path) -> None:
    content = json.dumps(CREDENTIALS)
    (secret / ".credentials.json").write_text(content)
    install_login(secret, config_dir)
    (config_dir / ".credentials.json").unlink()

    install_login(secret, config_dir)

    assert (config_dir / ".credentials.json").read_text() == content
