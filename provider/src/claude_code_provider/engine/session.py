"""One connected Claude Code CLI process that serves exactly one request, then goes away.

A session can be started ahead of time (the warm pool) because what shapes the CLI's behaviour
is fixed when the process starts (``SessionKey``); a request with history also fixes the transcript it
resumes, so such a request always starts its own.
"""

from __future__ import annotations

import os
import time
from collections import deque
from contextlib import ExitStack, suppress
from pathlib import Path

import anyio
from claude_agent_sdk import ClaudeSDKClient

from ..metrics import Metrics
from ..protocol import ChatTurn
from .history import write_transcript
from .options import SessionKey, render_options
from .scratch import ScratchSlots
from .settings import EngineSettings

_CLOSE_TIMEOUT = 10.0


class Session:
    def __init__(self, key: SessionKey, metrics: Metrics) -> None:
        self.key = key
        self.created = time.monotonic()
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.client: ClaudeSDKClient | None = None
        self.heard_from = False  # whether the CLI sent anything about the request it was given
        self._metrics = metrics
        self._files = ExitStack()
        self._transcript: Path | None = None
        self._counted = False

    @classmethod
    async def start(
        cls,
        key: SessionKey,
        history: list[ChatTurn],
        *,
        settings: EngineSettings,
        slots: ScratchSlots,
        metrics: Metrics,
        config_dir: Path,
    ) -> Session:
        """Start and connect a CLI for ``key`` (resuming ``history`` if any); the caller must ``close`` it."""
        session = cls(key, metrics)
        try:
            cwd = session._files.enter_context(slots.lease())
            resume = None
            if history:
                resume, session._transcript = write_transcript(history, config_dir=config_dir, cwd=cwd, model=key.model)
            options = render_options(
                key,
                settings,
                cwd=cwd,
                resume=resume,
                stderr=session.stderr_tail.append,
                environ=os.environ,
            )
            session.client = ClaudeSDKClient(options)
            metrics.cli_processes.inc()
            session._counted = True
            await session.client.connect()
        except BaseException:
            await session.close()
            raise
        return session

    @property
    def pid(self) -> int | None:
        # The SDK keeps its process private; only liveness and memory are read from it.
        process = getattr(getattr(self.client, "_transport", None), "_process", None)
        pid = getattr(process, "pid", None)
        return pid if isinstance(pid, int) else None

    def alive(self) -> bool:
        pid = self.pid
        return pid is not None and _state(pid) not in ("Z", "X", None)

    def rss_bytes(self) -> int | None:
        pid = self.pid
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    async def close(self) -> None:
        """Stop the CLI and remove the session's files; shielded and bounded, so it runs on cancellation too."""
        with anyio.CancelScope(shield=True):
            if self.client is not None:
                with anyio.move_on_after(_CLOSE_TIMEOUT), suppress(Exception):
                    await self.client.disconnect()
                self.client = None
            if self._counted:
                self._metrics.cli_processes.dec()
                self._counted = False
            if self._transcript is not None:
                self._transcript.unlink(missing_ok=True)
                self._transcript = None
            self._files.close()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
