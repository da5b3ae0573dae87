"""History transcripts are private from their first byte, never outlive a failed write, and leftovers of a
killed process are cleaned at start without touching the user's own Claude Code sessions."""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_code_provider.engine.history import remove_stale_transcripts, transcript_path, write_transcript
from claude_code_provider.engine.scratch import ScratchSlots
from claude_code_provider.protocol import ChatTurn

MODEL = "claude-sonnet-4-5"
HISTORY = [ChatTurn(role="user", content="secret plans"), ChatTurn(role="assistant", content="noted")]


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def transcripts(config_dir: Path) -> list[Path]:
    return sorted((config_dir / "projects").glob("*/*.jsonl"))


def test_a_transcript_is_created_0600_even_with_an_open_umask(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chmod(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the mode must be right from creation, not fixed afterwards")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)

    _, path = write_transcript(HISTORY, config_dir=tmp_path / "config", cwd=tmp_path / "work", model=MODEL)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "secret plans" in path.read_text()


def test_a_history_that_cannot_be_encoded_leaves_no_file(tmp_path: Path) -> None:
    broken = [ChatTurn(role="user", content="lone surrogate \ud800 here")]

    with pytest.raises(UnicodeEncodeError):
        write_transcript(broken, config_dir=tmp_path / "config", cwd=tmp_path / "work", model=MODEL)

    assert transcripts(tmp_path / "config") == []


def test_a_write_that_fails_half_way_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen

    class DiskFull:
        def __init__(self, descriptor: int, mode: str) -> None:
            self._file = real_fdopen(descriptor, mode)

        def __enter__(self) -> DiskFull:
            return self

        def __exit__(self, *_exc: object) -> None:
            self._file.close()

        def write(self, data: bytes) -> int:
            self._file.write(data[:10])
            self._file.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", DiskFull)

    with pytest.raises(OSError, match="No space"):
        write_transcript(HISTORY, config_dir=tmp_path / "config", cwd=tmp_path / "work", model=MODEL)

    assert transcripts(tmp_path / "config") == []


def test_a_link_planted_at_the_transcript_path_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    config_dir, cwd = tmp_path / "config", tmp_path / "work"
    fixed = uuid.UUID(int=1)
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    planted = transcript_path(config_dir, cwd, str(fixed))
    planted.parent.mkdir(parents=True)
    planted.symlink_to(victim)

    with pytest.raises(FileExistsError):
        write_transcript(HISTORY, config_dir=config_dir, cwd=cwd, model=MODEL)

    assert victim.read_text() == "keep me"


def test_stale_transcripts_of_the_providers_scratch_directories_are_removed_at_start(tmp_path: Path) -> None:
    config_dir, root = tmp_path / "config", tmp_path / "scratch"
    slots = ScratchSlots(root)
    with slots.lease() as cwd:
        _, old = write_transcript(HISTORY, config_dir=config_dir, cwd=cwd, model=MODEL)
        _, young = write_transcript(HISTORY, config_dir=config_dir, cwd=cwd, model=MODEL)
    # The user's own Claude Code session for a project of theirs, just as old.
    _, users = write_transcript(HISTORY, config_dir=config_dir, cwd=tmp_path / "my-project", model=MODEL)
    hour_ago = time.time() - 3600
    for path in (old, users):
        os.utime(path, (hour_ago, hour_ago))

    assert remove_stale_transcripts(config_dir, root, older_than=600) == 1

    assert not old.exists()
    assert young.exists()
    assert users.exists()
    os.utime(young, (hour_ago, hour_ago))
    assert remove_stale_transcripts(config_dir, root, older_than=600) == 1
    assert transcripts(config_dir) == [users]
    assert not old.parent.exists()


def test_no_projects_folder_nothing_to_clean(tmp_path: Path) -> None:
    assert remove_stale_transcripts(tmp_path / "config", tmp_path / "scratch", older_than=600) == 0
