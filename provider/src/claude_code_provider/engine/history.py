"""Earlier turns of a conversation as a Claude Code session transcript, to be resumed (the cold path;
a warm process takes them as input frames instead, see ``Session.feed``).

Streaming earlier turns to the CLI as user messages would make one model call per turn. Instead the
history is written as the JSONL transcript the CLI itself keeps under
``<config dir>/projects/<project key>/<session id>.jsonl`` and the request resumes that session, so
every earlier user and assistant turn reaches the model as a real message, in order, in one call.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claude_agent_sdk import project_key_for_directory

from ..protocol import ChatTurn, TextPart
from .scratch import SCRATCH_PREFIX


def can_feed(history: list[ChatTurn]) -> bool:
    """Pure: whether a warm process can take ``history`` as input frames: turns alternating from a user
    turn, as a conversation the CLI itself would have had (anything else resumes a transcript)."""
    return all(turn.role == ("user" if index % 2 == 0 else "assistant") for index, turn in enumerate(history))


def to_user_content(turn: ChatTurn) -> str | list[dict[str, Any]]:
    """Pure: a user turn as the API's content: its text, or its text, image and document blocks in order."""
    if not turn.parts:
        return turn.content
    return [
        {"type": "text", "text": part.text}
        if isinstance(part, TextPart)
        else {"type": part.type, "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}
        for part in turn.parts
    ]


def to_assistant_content(turn: ChatTurn) -> list[dict[str, Any]]:
    """Pure: an assistant turn as the API's content blocks, its thinking first (signatures and redacted data
    as the client sent them back: the API checks them)."""
    blocks: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": block.thinking, "signature": block.signature or ""}
        if block.kind == "thinking"
        else {"type": "redacted_thinking", "data": block.data or ""}
        for block in turn.thinking
    ]
    return [*blocks, {"type": "text", "text": turn.content}]


def render_transcript(history: list[ChatTurn], *, session_id: str, cwd: Path, model: str) -> str:
    """Pure: the JSONL lines of a session whose messages are ``history``, each linked to the last."""
    lines: list[str] = []
    parent: str | None = None
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for turn in history:
        entry_id = str(uuid.uuid4())
        message: dict[str, Any]
        if turn.role == "user":
            message = {"role": "user", "content": to_user_content(turn)}
        else:
            message = {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": to_assistant_content(turn),
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
        entry = {
            "parentUuid": parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": str(cwd),
            "sessionId": session_id,
            "type": turn.role,
            "message": message,
            "uuid": entry_id,
            "timestamp": stamp,
        }
        lines.append(json.dumps(entry, ensure_ascii=False))
        parent = entry_id
    return "\n".join(lines) + "\n"


def transcript_path(config_dir: Path, cwd: Path, session_id: str) -> Path:
    return config_dir / "projects" / project_key_for_directory(cwd) / f"{session_id}.jsonl"


def write_transcript(history: list[ChatTurn], *, config_dir: Path, cwd: Path, model: str) -> tuple[str, Path]:
    """Write the history as a resumable session; return its id and file (the caller removes it).

    The file is created 0600 (never readable by others, whatever the umask) and removed again when
    anything fails, so a failed request leaves no conversation behind."""
    session_id = str(uuid.uuid4())
    path = transcript_path(config_dir, cwd, session_id)
    data = render_transcript(history, session_id=session_id, cwd=cwd, model=model).encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return session_id, path


def remove_stale_transcripts(config_dir: Path, scratch_root: Path, *, older_than: float) -> int:
    """Remove transcripts this provider wrote for its scratch directories and left behind (a killed
    process), if older than ``older_than`` seconds; the user's own sessions are never touched."""
    projects = config_dir / "projects"
    prefix = project_key_for_directory(scratch_root / SCRATCH_PREFIX)
    cutoff = time.time() - older_than
    removed = 0
    try:
        folders = [folder for folder in projects.iterdir() if folder.name.startswith(prefix)]
    except OSError:
        return 0
    for folder in folders:
        for transcript in folder.glob("*.jsonl"):
            with suppress(OSError):
                if transcript.lstat().st_mtime < cutoff:
                    transcript.unlink()
                    removed += 1
        with suppress(OSError):
            folder.rmdir()  # only when empty
    return removed
