"""The runtime installs a login under the CLI's own refresh lock, so a refresh in progress never loses it."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

import claude_code_provider.auth.login as login_module
from claude_code_provider.auth import store_lock
from claude_code_provider.auth.login import LoginError, install_login
from claude_code_provider.auth.store_lock import cli_store_lock

LOGIN = {"claudeAiOauth": {"accessToken": "sk-ant-oat01-new", "refreshToken": "sk-ant-ort01-new", "expiresAt": 1}}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.mkdir()
    (path / ".credentials.json").write_text(json.dumps(LOGIN))
    return path


def test_an_install_waits_while_a_cli_holds_its_refresh_lock(secret: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / ".oauth_refresh.lock").mkdir()  # as proper-lockfile takes it: a fresh directory
    done = threading.Event()
    worker = threading.Thread(target=lambda: (install_login(secret, config), done.set()))
    worker.start()
    try:
        assert not done.wait(0.5), "installed while the CLI was refreshing"
        assert not (config / ".credentials.json").exists()
    finally:
        (config / ".oauth_refresh.lock").rmdir()  # the CLI's refresh is over
    assert done.wait(5)
    worker.join()
    assert json.loads((config / ".credentials.json").read_text()) == LOGIN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "secret"], "both locks released"
    assert ".oauth_refresh.lock" not in os.listdir(config)


def test_the_legacy_lock_next_to_the_config_directory_is_honoured_too(secret: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    (tmp_path / "config.lock").mkdir()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (install_login(secret, config), done.set()))
    worker.start()
    assert not done.wait(0.5)
    (tmp_path / "config.lock").rmdir()
    assert done.wait(5)
    worker.join()
    assert (config / ".credentials.json").is_file()


def test_a_dead_holders_lock_is_taken_over(secret: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    lock = config / ".oauth_refresh.lock"
    lock.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(lock, (an_hour_ago, an_hour_ago))
    install_login(secret, config)
    assert json.loads((config / ".credentials.json").read_text()) == LOGIN
    assert not lock.exists()


def test_a_lock_held_past_the_wait_is_a_clear_login_error(secret: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / ".oauth_refresh.lock").mkdir()
    with (
        pytest.raises(TimeoutError, match=r"held .*\.oauth_refresh\.lock for more than 0 s"),
        cli_store_lock(config, timeout=0.2),
    ):
        pass


def test_install_login_reports_a_held_lock_naming_the_lock(
    secret: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / ".oauth_refresh.lock").mkdir()
    monkeypatch.setattr(login_module, "cli_store_lock", lambda d: store_lock.cli_store_lock(d, timeout=0.1))
    with pytest.raises(LoginError, match=r"The login was not installed: the Claude Code CLI held .*oauth_refresh"):
        install_login(secret, config)
    assert not (config / ".credentials.json").exists()
