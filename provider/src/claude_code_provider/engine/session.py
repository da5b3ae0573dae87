"""One connected Claude Code CLI process that serves exactly one request, then goes away.

A session can be started ahead of time (the warm pool) because what shapes the CLI's behaviour
is fixed when the process starts (``SessionKey``); a request with history also fixes the transcript it
resumes, so such a request always starts its own.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from contextlib import ExitStack, suppress
from pathlib import Path

import anyio
import psutil
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
        self._process: psutil.Process | None = None

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
            session._process = _process_of(session.client)
        except BaseException:
            await session.close()
            raise
        return session

    def alive(self) -> bool:
        # psutil rather than /proc, which macOS (`make proxy` on a laptop) does not have.
        try:
            return self._process is not None and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def rss_bytes(self) -> int | None:
        try:
            return int(self._process.memory_info().rss) if self._process is not None else None
        except psutil.Error:
            return None

    async def close(self) -> None:
        """Stop the CLI and remove the session's files; shielded and bounded, so it runs on cancellation too."""
        with anyio.CancelScope(shield=True):
            client, self.client = self.client, None
            try:
                if client is not None:
                    with anyio.move_on_after(_CLOSE_TIMEOUT), suppress(Exception):
                        await client.disconnect()
            finally:
                self._kill(client)
                if self._counted:
                    self._metrics.cli_processes.dec()
                    self._counted = False
                if self._transcript is not None:
                    self._transcript.unlink(missing_ok=True)
                    self._transcript = None
                self._files.close()

    def _kill(self, client: ClaudeSDKClient | None) -> None:
        """Make sure the CLI is gone, also when the SDK could not stop it (its event loop is ending), and
        close its pipes while that loop still runs (later, their clean-up would fail on a closed loop)."""
        process = self._process
        if process is not None and self.alive():
            with suppress(psutil.Error):
                process.kill()
        pipes = getattr(getattr(_sdk_process(client), "_process", None), "_transport", None)
        if isinstance(pipes, asyncio.SubprocessTransport) and not pipes.is_closing():
            pipes.close()


def _sdk_process(client: ClaudeSDKClient | None) -> object:
    """The SDK's handle on the CLI's process (anyio's), which it keeps private."""
    return getattr(getattr(client, "_transport", None), "_process", None)


def _process_of(client: ClaudeSDKClient) -> psutil.Process | None:
    """The CLI's process; the SDK keeps it private. psutil remembers its start time, so a reused pid
    never passes for it."""
    pid = getattr(_sdk_process(client), "pid", None)
    try:
        return psutil.Process(pid) if isinstance(pid, int) else None
    except psutil.Error:
        return None
