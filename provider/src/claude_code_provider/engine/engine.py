"""Run one request through a fresh Claude Code CLI process and stream its events.

Each request gets an empty scratch working directory (reused names, so the CLI's per-directory state
stays bounded), a transcript for its earlier turns, and a process that is always terminated and
cleaned up, also when the consumer stops listening half-way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
from claude_agent_sdk import (
    CLIConnectionError,
    CLIJSONDecodeError,
    CLINotFoundError,
    ProcessError,
    ResultMessage,
    query,
)

from ..auth.api_keys import find_api_key_sources, refuse_api_keys
from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import CompletionRequest, Finish, TextDelta
from .history import write_transcript
from .options import render_options
from .settings import EngineSettings
from .translate import TurnState, judge_result, redact

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT = 10.0

OutcomeListener = Callable[[ClaudeCodeError | None], None]

# Kinds that say something about the login or the upstream, as opposed to this process or request.
_UPSTREAM_KINDS = {
    ErrorKind.NOT_LOGGED_IN,
    ErrorKind.USAGE_LIMIT,
    ErrorKind.OVERLOADED,
    ErrorKind.UPSTREAM_ERROR,
}


class Engine:
    def __init__(self, settings: EngineSettings, on_outcome: OutcomeListener | None = None) -> None:
        self.settings = settings
        self._on_outcome = on_outcome
        self._free_slots: list[int] = []
        self._next_slot = 0
        # The SDK otherwise runs `claude -v` before every request to check a version it bundled itself.
        os.environ.setdefault("CLAUDE_AGENT_SDK_SKIP_VERSION_CHECK", "1")

    @property
    def config_dir(self) -> Path:
        return self.settings.config_dir or Path.home() / ".claude"

    @contextmanager
    def _scratch(self) -> Iterator[Path]:
        slot = self._free_slots.pop() if self._free_slots else self._take_new_slot()
        path = (self.settings.scratch_root / f"slot-{slot}").resolve()
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, mode=0o700)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            self._free_slots.append(slot)

    def _take_new_slot(self) -> int:
        self._next_slot += 1
        return self._next_slot - 1

    def _report(self, error: ClaudeCodeError | None) -> None:
        if self._on_outcome is not None and (error is None or error.kind in _UPSTREAM_KINDS):
            self._on_outcome(error)

    async def complete(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Finish]:
        """Text deltas as the model writes them, then one finish; failures raise ``ClaudeCodeError``."""
        refuse_api_keys(find_api_key_sources(os.environ, self.config_dir))
        started = time.monotonic()
        with self._scratch() as cwd:
            transcript: Path | None = None
            resume: str | None = None
            if request.history:
                resume, transcript = write_transcript(
                    request.history, config_dir=self.config_dir, cwd=cwd, model=request.model
                )
            stderr_tail: deque[str] = deque(maxlen=20)
            options = render_options(request, self.settings, cwd=cwd, resume=resume, stderr=stderr_tail.append)
            try:
                async for event in self._run(request, options, stderr_tail, started):
                    yield event
            finally:
                if transcript is not None:
                    transcript.unlink(missing_ok=True)

    async def _run(
        self,
        request: CompletionRequest,
        options: object,
        stderr_tail: deque[str],
        started: float,
    ) -> AsyncIterator[TextDelta | Finish]:
        deadline = started + self.settings.request_timeout
        state = TurnState()
        stream = query(prompt=request.prompt, options=options).__aiter__()  # type: ignore[arg-type]
        try:
            while True:
                wait = min(self.settings.idle_timeout, deadline - time.monotonic())
                try:
                    async with asyncio.timeout(max(wait, 0.0)):
                        message = await anext(stream)
                except StopAsyncIteration:
                    raise self._crashed("Claude Code ended without a result", stderr_tail) from None
                except TimeoutError:
                    raise ClaudeCodeError(
                        ErrorKind.TIMEOUT,
                        f"Claude Code gave no answer within {wait:.0f} s (request time-out "
                        f"{self.settings.request_timeout:.0f} s, idle time-out {self.settings.idle_timeout:.0f} s).",
                    ) from None
                event = state.observe(message)
                if isinstance(event, TextDelta):
                    yield event
                elif event is not None or isinstance(message, ResultMessage):
                    finish = event or judge_result(message, state)  # type: ignore[arg-type]
                    self._report(None)
                    log.info(
                        "Request finished",
                        extra={"model": request.model, "seconds": round(time.monotonic() - started, 3)},
                    )
                    yield finish
                    return
        except ClaudeCodeError as error:
            self._report(error)
            log.warning("Request failed", extra={"kind": error.kind.value, "model": request.model})
            raise
        except CLINotFoundError as error:
            searched = self.settings.cli_path or "the claude-agent-sdk's bundled CLI and PATH"
            raise ClaudeCodeError(
                ErrorKind.CLI_NOT_FOUND,
                f"Claude Code CLI not found (searched {searched}): {redact(str(error))}. "
                "Install claude-agent-sdk with its bundled CLI or set CLAUDE_CODE_CLI_PATH.",
            ) from None
        except (ProcessError, CLIConnectionError, CLIJSONDecodeError) as error:
            raise self._crashed(f"Claude Code failed: {redact(str(error))}", stderr_tail) from None
        finally:
            # Shielded and bounded: a cancelled request (a client that went away) must still stop its CLI.
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                await stream.aclose()  # type: ignore[attr-defined]

    @staticmethod
    def _crashed(summary: str, stderr_tail: deque[str]) -> ClaudeCodeError:
        tail = redact("\n".join(stderr_tail).strip())[-2000:]
        return ClaudeCodeError(ErrorKind.CLI_CRASHED, f"{summary}. stderr: {tail or '(empty)'}")
