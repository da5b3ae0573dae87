"""Which login the pod writes back to its Secret: only valid ones, only over its own lineage (else strictly
newer ones); never a token in the patch's annotations; and the Secret's copy of the pod's own lineage never
undoes the pod's refresh at (re)install, while a login put there on purpose always wins."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from claude_code_provider.auth.lineage import Lineage, save_lineage
from claude_code_provider.auth.login import install_login
from claude_code_provider.auth.oauth_login import derive_secret_patch, is_newer_login, parse_oauth_login
from claude_code_provider.metrics import Metrics
from claude_code_provider.runtime.writeback import LoginWriter, WriteBackSettings

KEYS = {"credentials_key": ".credentials.json", "claude_json_key": ".claude.json"}
WRITER = "pod/1234-uid"


def login(expires_ms: int, access: str = "sk-ant-oat01-access", refresh: str | None = "sk-ant-ort01-refresh") -> bytes:
    oauth: dict[str, Any] = {"accessToken": access, "expiresAt": expires_ms, "scopes": ["user:inference"]}
    if refresh is not None:
        oauth["refreshToken"] = refresh
    return json.dumps({"claudeAiOauth": oauth}).encode()


def patch_for(
    secret: dict[str, bytes], new: bytes | None, state: bytes | None = None, lineage: Lineage | None = None
) -> tuple[Any, str]:
    return derive_secret_patch(secret, "42", credentials=new, claude_json=state, writer=WRITER, lineage=lineage, **KEYS)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"{not json",
        b"[]",
        json.dumps({"claudeAiOauth": {}}).encode(),
        login(1_800_000_000_000, access=""),
        login(1_800_000_000_000, refresh=None),
        login(1_800_000_000_000, access="sk-ant-api03-key"),
        json.dumps({"claudeAiOauth": {"accessToken": "a", "refreshToken": "r", "expiresAt": "soon"}}).encode(),
        json.dumps({"claudeAiOauth": {"accessToken": "a", "refreshToken": "r", "expiresAt": True}}).encode(),
    ],
)
def test_a_blank_or_broken_login_is_never_written(raw: bytes | None) -> None:
    assert parse_oauth_login(raw) is None
    assert patch_for({".credentials.json": login(1_700_000_000_000)}, raw) == (None, "invalid")


def test_a_newer_login_is_written_with_the_resource_version_and_annotations() -> None:
    old, new = login(1_700_000_000_000), login(1_700_028_800_000, access="sk-ant-oat01-new", refresh="sk-ant-ort01-n")
    state = json.dumps({"oauthAccount": {"accountUuid": "u"}}).encode()
    patch, outcome = patch_for({".credentials.json": old, ".claude.json": b"{}", "other": b"x"}, new, state)
    assert outcome == "written"
    assert patch["metadata"]["resourceVersion"] == "42"
    assert patch["metadata"]["annotations"] == {
        "claudecode.dev/login-expires-at": "2023-11-15T06:13:20Z",
        "claudecode.dev/login-written-by": WRITER,
    }
    written = {k: base64.b64decode(v) for k, v in patch["data"].items()}
    assert written == {".credentials.json": new, ".claude.json": state}
    assert "sk-ant" not in json.dumps(patch["metadata"])


def test_claude_json_is_written_only_when_the_secret_holds_that_key() -> None:
    patch, _ = patch_for({".credentials.json": login(1)}, login(2), b"{}")
    assert set(patch["data"]) == {".credentials.json"}
    patch, _ = patch_for({".credentials.json": login(1), ".claude.json": b"{}"}, login(2), b"not json")
    assert set(patch["data"]) == {".credentials.json"}, "a broken .claude.json is not written"


@pytest.mark.parametrize("secret_expiry", [1_700_000_000_001, 1_700_000_000_000])
def test_a_stale_writer_loses_to_a_newer_or_equal_login(secret_expiry: int) -> None:
    """A pod whose refresh is older than what the Secret holds (e.g. a newer `claude-code-operator login`)
    must not write: its refresh token may already be the one the newer login replaced."""
    secret = {".credentials.json": login(secret_expiry, access="sk-ant-oat01-newer")}
    assert patch_for(secret, login(1_700_000_000_000)) == (None, "stale")


def test_the_same_login_is_not_written_again() -> None:
    same = login(1_700_000_000_000)
    assert patch_for({".credentials.json": same}, same) == (None, "unchanged")


def test_a_secret_without_a_valid_login_takes_any_valid_one() -> None:
    assert patch_for({".credentials.json": b"{}"}, login(5))[1] == "written"
    assert patch_for({}, login(5))[1] == "written"
    assert is_newer_login(login(5), None)
    assert not is_newer_login(None, login(5))


def test_write_back_is_off_unless_the_operator_names_the_secret() -> None:
    assert WriteBackSettings.from_env({}) is None
    on = WriteBackSettings.from_env(
        {"CLAUDE_LOGIN_SECRET": "s", "CLAUDE_LOGIN_SECRET_NAMESPACE": "ns", "CLAUDE_POD_UID": "u1"}
    )
    assert on is not None
    assert (on.writer, on.credentials_key) == ("pod/u1", ".credentials.json")


def test_reinstalling_the_pods_own_lineage_keeps_its_refreshed_login(tmp_path: Path) -> None:
    """A container restart, or the Secret volume catching up with the pod's own write-back: the login the
    CLI refreshed in the config directory stays."""
    secret, config = tmp_path / "secret", tmp_path / "config"
    secret.mkdir()
    (secret / ".credentials.json").write_bytes(login(1_000))
    install_login(secret, config)
    refreshed = login(2_000, access="sk-ant-oat01-refreshed")
    (config / ".credentials.json").write_bytes(refreshed)
    install_login(secret, config)  # a restart, the Secret unchanged
    assert (config / ".credentials.json").read_bytes() == refreshed

    written_back = login(2_000, access="sk-ant-oat01-refreshed", refresh="sk-ant-ort01-written")
    save_lineage(config, Lineage(installed=None).writing(written_back))
    again = login(3_000, access="sk-ant-oat01-again")
    (config / ".credentials.json").write_bytes(again)  # refreshed again before the volume caught up
    (secret / ".credentials.json").write_bytes(written_back)
    install_login(secret, config)
    assert (config / ".credentials.json").read_bytes() == again


def test_a_login_put_in_the_secret_on_purpose_is_installed_even_if_it_expires_earlier(tmp_path: Path) -> None:
    """Another account, or `login --force` with a shorter token: not this pod's lineage, so it wins."""
    secret, config = tmp_path / "secret", tmp_path / "config"
    secret.mkdir()
    (secret / ".credentials.json").write_bytes(login(1_000))
    install_login(secret, config)
    (config / ".credentials.json").write_bytes(login(9_000, access="sk-ant-oat01-refreshed"))
    replacement = login(1_500, access="sk-ant-oat01-other-account", refresh="sk-ant-ort01-other")
    (secret / ".credentials.json").write_bytes(replacement)
    install_login(secret, config)
    assert (config / ".credentials.json").read_bytes() == replacement


def test_without_a_lineage_record_the_later_expiry_wins_at_install(tmp_path: Path) -> None:
    """A config directory from before lineage records: the old rule, never an older login over a newer."""
    secret, config = tmp_path / "secret", tmp_path / "config"
    secret.mkdir()
    config.mkdir()
    refreshed = login(2_000, access="sk-ant-oat01-refreshed")
    (config / ".credentials.json").write_bytes(refreshed)
    (secret / ".credentials.json").write_bytes(login(1_500))
    install_login(secret, config)
    assert (config / ".credentials.json").read_bytes() == refreshed
    (secret / ".credentials.json").write_bytes(login(3_000))
    install_login(secret, config)
    assert (config / ".credentials.json").read_bytes() == login(3_000)


def test_write_back_goes_only_over_the_pods_own_lineage() -> None:
    installed = login(1_000, refresh="sk-ant-ort01-installed")
    mine = login(2_000, access="sk-ant-oat01-refreshed", refresh="sk-ant-ort01-mine")
    lineage = Lineage().installing(installed)
    patch, outcome = patch_for({".credentials.json": installed}, mine, lineage=lineage)
    assert outcome == "written"
    assert base64.b64decode(patch["data"][".credentials.json"]) == mine
    # Over what it wrote last, also with an earlier expiry (an in-pod `claude auth login` with a shorter token).
    relogin = login(1_200, access="sk-ant-oat01-relogin", refresh="sk-ant-ort01-relogin")
    assert patch_for({".credentials.json": mine}, relogin, lineage=lineage.writing(mine))[1] == "written"
    # A person's login, older or newer than the pod's: never written over.
    theirs_older = login(1_500, access="sk-ant-oat01-theirs", refresh="sk-ant-ort01-theirs")
    theirs_newer = login(9_000, access="sk-ant-oat01-theirs", refresh="sk-ant-ort01-theirs")
    for theirs in (theirs_older, theirs_newer):
        assert patch_for({".credentials.json": theirs}, mine, lineage=lineage.writing(mine)) == (None, "superseded")


class _Secrets:
    """A client for one Secret, as lightkube's AsyncClient answers get and a merge patch."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = dict(data)
        self.version = 1
        self.patches: list[dict[str, Any]] = []

    def __call__(self) -> Any:
        return self

    async def get(self, *_: Any, **__: Any) -> Secret:
        encoded = {k: base64.b64encode(v).decode() for k, v in self.data.items()}
        return Secret(metadata=ObjectMeta(name="s", resourceVersion=str(self.version)), data=encoded)

    async def patch(self, _: Any, __: str, patch: dict[str, Any], **___: Any) -> None:
        self.patches.append(patch)
        self.data.update({k: base64.b64decode(v) for k, v in patch["data"].items()})
        self.version += 1

    async def close(self) -> None:
        pass


def test_a_deleted_pods_last_write_back_never_undoes_a_replaced_login(tmp_path: Path) -> None:
    """The user replaces the login (another account, expiring before the pod's refreshed token); the
    operator deletes the old pod; its shutdown write-back sees its own later expiry. It writes nothing,
    neither credentials nor `.claude.json`, and says a newer login arrived."""
    secret_dir, config = tmp_path / "secret", tmp_path / "config"
    secret_dir.mkdir()
    old = login(1_000, refresh="sk-ant-ort01-old")
    (secret_dir / ".credentials.json").write_bytes(old)
    (secret_dir / ".claude.json").write_text('{"oauthAccount": {"emailAddress": "old@example.com"}}')
    install_login(secret_dir, config)
    (config / ".credentials.json").write_bytes(login(9_000, access="sk-ant-oat01-refreshed"))
    replacement = login(5_000, access="sk-ant-oat01-new-account", refresh="sk-ant-ort01-new")
    new_state = b'{"oauthAccount": {"emailAddress": "new@example.com"}}'
    api = _Secrets({".credentials.json": replacement, ".claude.json": new_state})
    settings = WriteBackSettings(secret_name="s", namespace="ns", pod_uid="old-pod")
    metrics = Metrics()
    writer = LoginWriter(settings, config, metrics, client_factory=api)

    assert asyncio.run(writer.write_back()) == "superseded"
    assert api.patches == []
    assert api.data == {".credentials.json": replacement, ".claude.json": new_state}
    assert writer.status().last_result == "superseded"
    assert metrics.login_write_backs.labels(outcome="superseded")._value.get() == 1

    # While the Secret still holds this pod's lineage, the refreshed login is written, and then recorded.
    api.data[".credentials.json"] = old
    assert asyncio.run(writer.write_back()) == "written"
    refreshed_again = login(9_500, access="sk-ant-oat01-again")
    (config / ".credentials.json").write_bytes(refreshed_again)
    assert asyncio.run(writer.write_back()) == "written"
    assert api.data[".credentials.json"] == refreshed_again


class _NoApi:
    """A client factory for a pod without API access: every write-back attempt fails, and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        raise OSError("no ServiceAccount token")


async def _until(predicate: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


def _writer(config: Path, factory: _NoApi, retry_seconds: float) -> LoginWriter:
    settings = WriteBackSettings(secret_name="s", namespace="ns", pod_uid="u", retry_seconds=retry_seconds)
    return LoginWriter(settings, config, Metrics(), client_factory=factory)


def test_a_replaced_credentials_file_triggers_a_write_back_at_once(tmp_path: Path) -> None:
    """File events, not a poll: with the retry an hour away, replacing the file (as the CLI does) is what
    makes the next attempt; other files in the directory do not."""
    factory = _NoApi()
    writer = _writer(tmp_path, factory, retry_seconds=3600)

    async def scenario() -> None:
        task = asyncio.create_task(writer.run())
        try:
            await _until(lambda: factory.calls == 1, 5)  # the attempt at start
            (tmp_path / "other.json").write_text("{}")
            tmp = tmp_path / ".credentials.json.tmp"
            tmp.write_bytes(login(2_000))
            os.replace(tmp, tmp_path / ".credentials.json")
            await _until(lambda: factory.calls == 2, 5)
            await asyncio.sleep(0.5)
            assert factory.calls == 2, "one write-back per change"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    assert writer.status().last_result == "error"


def test_a_failed_write_back_is_retried_without_a_change(tmp_path: Path) -> None:
    factory = _NoApi()
    writer = _writer(tmp_path, factory, retry_seconds=0.2)

    async def scenario() -> None:
        task = asyncio.create_task(writer.run())
        try:
            await _until(lambda: factory.calls >= 3, 10)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
