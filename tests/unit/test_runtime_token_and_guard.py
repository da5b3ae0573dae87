"""The runtime token's sources and the completion API's Host and token checks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from claude_code_provider.runtime.guard import bearer_token, is_loopback_host
from claude_code_provider.runtime_token import RuntimeTokenError, apply_runtime_token, fetch_runtime_token


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8081",
        "LOCALHOST:1",
        "127.0.0.1",
        "127.0.0.1:8081",
        "127.100.3.4:8081",
        "[::1]",
        "[::1]:8081",
    ],
)
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "evil.example",
        "evil.example:8081",
        "localhost.evil.example:8081",
        "10.0.0.5:8081",
        "0.0.0.0:8081",
        "[::ffff:10.0.0.1]:8081",
        "[::1",
        "127.0.0.1.evil.example",
        "localhost:8081:1",
    ],
)
def test_other_hosts_are_refused(host: str | None) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        (None, None),
        ("abc", None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_the_variable_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    environ = {"CLAUDE_RUNTIME_TOKEN": "from-env", "CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "token")}
    assert fetch_runtime_token(environ) == "from-env"
    assert apply_runtime_token(environ) == "from-env"
    assert fetch_runtime_token({"CLAUDE_RUNTIME_TOKEN": "", "CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "token")}) == (
        "from-file"
    )


def test_the_runtime_creates_a_missing_token_file_private_and_random(tmp_path: Path) -> None:
    environ = {"CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "token")}
    assert fetch_runtime_token(environ) is None

    token = apply_runtime_token(environ)

    assert len(token) >= 40
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600
    assert fetch_runtime_token(environ) == token
    assert apply_runtime_token(environ) == token  # a restart keeps it
    assert apply_runtime_token({"CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "other")}) != token
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "token"]


def test_without_either_variable_the_runtime_refuses_to_start() -> None:
    with pytest.raises(RuntimeTokenError, match="CLAUDE_RUNTIME_TOKEN"):
        apply_runtime_token({"CLAUDE_RUNTIME_TOKEN": ""})


def test_an_empty_or_unusable_token_file_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(RuntimeTokenError, match="empty"):
        apply_runtime_token({"CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "empty")})
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(RuntimeTokenError, match="not a readable token file"):
        apply_runtime_token({"CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "dangling")})
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(RuntimeTokenError, match="Cannot create"):
        apply_runtime_token({"CLAUDE_RUNTIME_TOKEN_FILE": str(tmp_path / "absent-dir" / "token")})
