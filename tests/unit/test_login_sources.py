"""Where `claude-code-operator login` finds this machine's login, in its documented order; the macOS
Keychain behind an interface (a fake here, and the real `security` call against a stand-in program)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pytest

from claude_code_operator.login.apply import fetch_kubeconfig
from claude_code_operator.login.errors import ClusterError, LoginCommandError, LoginNotFound
from claude_code_operator.login.sources import MacKeychain, fetch_local_login, keychain_service

TOKEN = "sk-ant-oat01-" + "t" * 40
CREDENTIALS = json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-file"}})


class FakeKeychain:
    def __init__(self, items: dict[tuple[str, str], str] | None = None) -> None:
        self.items = items or {}
        self.asked: list[tuple[str, str]] = []

    def find_password(self, service: str, account: str) -> str | None:
        self.asked.append((service, account))
        return self.items.get((service, account))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_linux_file_under_home_with_state_beside_the_claude_directory(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / ".credentials.json", CREDENTIALS)
    write(tmp_path / ".claude.json", '{"userID": "u"}')
    keychain = FakeKeychain()

    found = fetch_local_login(env={}, home=tmp_path, platform="linux", keychain=keychain)

    assert (found.kind, found.source) == ("oauth", str(tmp_path / ".claude" / ".credentials.json"))
    assert found.secret == CREDENTIALS.encode()
    assert found.state == b'{"userID": "u"}'
    assert found.state_source == str(tmp_path / ".claude.json")
    assert keychain.asked == [], "no Keychain outside macOS"


def test_claude_config_dir_holds_both_files(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    write(config / ".credentials.json", CREDENTIALS)
    write(config / ".claude.json", '{"userID": "in-config-dir"}')
    write(tmp_path / ".claude" / ".credentials.json", "{}")  # the default place is not looked at
    write(tmp_path / ".claude.json", '{"userID": "home"}')

    found = fetch_local_login(
        env={"CLAUDE_CONFIG_DIR": str(config)}, home=tmp_path, platform="linux", keychain=FakeKeychain()
    )

    assert found.source == str(config / ".credentials.json")
    assert found.state == b'{"userID": "in-config-dir"}'


def test_without_account_state_the_login_goes_alone(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / ".credentials.json", CREDENTIALS)
    found = fetch_local_login(env={}, home=tmp_path, platform="linux", keychain=FakeKeychain())
    assert (found.state, found.state_source) == (None, None)


def test_macos_reads_the_keychain_item_of_the_user_before_the_file(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / ".credentials.json", '{"from": "file"}')
    keychain = FakeKeychain({("Claude Code-credentials", "alice"): CREDENTIALS})

    found = fetch_local_login(env={"USER": "alice"}, home=tmp_path, platform="darwin", keychain=keychain)

    assert found.secret == CREDENTIALS.encode()
    assert "Keychain" in found.source
    assert keychain.asked == [("Claude Code-credentials", "alice")]


def test_macos_falls_back_to_the_file_when_the_keychain_has_no_item(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / ".credentials.json", CREDENTIALS)
    found = fetch_local_login(env={"USER": "alice"}, home=tmp_path, platform="darwin", keychain=FakeKeychain())
    assert found.source == str(tmp_path / ".claude" / ".credentials.json")


def test_keychain_item_name_follows_claude_config_dir_as_the_cli_names_it() -> None:
    digest = hashlib.sha256(b"/Users/alice/work-claude").hexdigest()[:8]
    assert keychain_service(None) == "Claude Code-credentials"
    assert keychain_service("") == "Claude Code-credentials"
    assert keychain_service("/Users/alice/work-claude") == f"Claude Code-credentials-{digest}"


def test_token_from_stdin_wins_over_environment_and_files(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / ".credentials.json", CREDENTIALS)
    env = {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-from-env"}
    found = fetch_local_login(
        env=env, home=tmp_path, platform="darwin", keychain=FakeKeychain(), stdin=io.StringIO(TOKEN + "\n")
    )
    assert (found.kind, found.secret) == ("setup-token", (TOKEN + "\n").encode())
    assert "stdin" in found.source


def test_environment_token_wins_over_keychain_and_files(tmp_path: Path) -> None:
    write(tmp_path / ".claude" / ".credentials.json", CREDENTIALS)
    keychain = FakeKeychain({("Claude Code-credentials", "alice"): CREDENTIALS})
    found = fetch_local_login(
        env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN, "USER": "alice"}, home=tmp_path, platform="darwin", keychain=keychain
    )
    assert (found.kind, found.secret, found.source) == (
        "setup-token",
        TOKEN.encode(),
        "the environment variable CLAUDE_CODE_OAUTH_TOKEN",
    )
    assert keychain.asked == []


def test_no_login_says_where_it_looked_and_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(LoginNotFound) as caught:
        fetch_local_login(env={"USER": "bob"}, home=tmp_path, platform="darwin", keychain=FakeKeychain())
    message = str(caught.value)
    assert str(tmp_path / ".claude" / ".credentials.json") in message
    assert "Keychain (service 'Claude Code-credentials', account 'bob')" in message
    assert "CLAUDE_CODE_OAUTH_TOKEN" in message
    assert "claude setup-token" in message
    assert "claude auth login" in message


def fake_security(bin_dir: Path, body: str) -> None:
    """A stand-in for macOS's `security` that records its arguments."""
    script = bin_dir / "security"
    script.write_text(f'#!/bin/sh\necho "$@" > "{bin_dir}/args"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", f"{path}{os.pathsep}{os.environ['PATH']}")
    return path


def test_mac_keychain_asks_security_for_the_password_only(bin_dir: Path) -> None:
    fake_security(bin_dir, f"printf '%s\\n' '{CREDENTIALS}'")
    assert MacKeychain().find_password("Claude Code-credentials", "alice") == CREDENTIALS
    assert (bin_dir / "args").read_text().split() == [
        "find-generic-password", "-a", "alice", "-w", "-s", "Claude", "Code-credentials",
    ]  # fmt: skip


def test_mac_keychain_missing_item_is_none_and_other_failures_are_explained(bin_dir: Path) -> None:
    fake_security(
        bin_dir, "echo 'security: SecKeychainSearchCopyNext: The specified item could not be found' >&2; exit 44"
    )
    assert MacKeychain().find_password("Claude Code-credentials", "alice") is None
    fake_security(bin_dir, "echo 'security: User interaction is not allowed.' >&2; exit 36")
    with pytest.raises(LoginCommandError) as caught:
        MacKeychain().find_password("Claude Code-credentials", "alice")
    assert "User interaction is not allowed" in str(caught.value)
    assert "security unlock-keychain" in str(caught.value)


def kubeconfig(server: str, context: str, ca: str, namespace: str | None = None, current: bool = True) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": context, "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
    }
    if current:
        config["current-context"] = context
    return json.dumps(config)


def test_kubeconfig_files_merge_like_kubectl_with_paths_relative_to_their_file(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "config", kubeconfig("https://127.0.0.1:1", "one", "ca-one.crt", "team"))
    second = write(tmp_path / "b" / "config", kubeconfig("https://127.0.0.1:2", "two", "ca-two.crt"))
    env = {"KUBECONFIG": f"{first}{os.pathsep}{tmp_path / 'missing'}{os.pathsep}{second}"}

    config = fetch_kubeconfig(None, env, tmp_path)

    current = config.get()
    assert current is not None
    assert (current.context_name, current.namespace) == ("one", "team")
    other = config.get("two")
    assert other is not None
    assert other.cluster.server == "https://127.0.0.1:2"
    assert other.cluster.certificate_auth == str((tmp_path / "b" / "ca-two.crt").resolve())
    explicit = fetch_kubeconfig(str(second), env, tmp_path).get()
    assert explicit is not None
    assert explicit.context_name == "two", "--kubeconfig wins over KUBECONFIG"


def test_no_kubeconfig_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ClusterError) as caught:
        fetch_kubeconfig(None, {}, tmp_path)
    assert str(tmp_path / ".kube" / "config") in str(caught.value)
    assert "--dry-run" in str(caught.value)
