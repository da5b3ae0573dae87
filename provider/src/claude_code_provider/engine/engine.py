"""Run one request through a Claude Code CLI process and stream its events.

A request without history takes a warm process from the pool when one is ready for its options;
otherwise it starts its own. Either way the process serves this request alone and is always stopped
and cleaned up afterwards, also when the consumer stops listening half-way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from claude_agent_sdk import CLIConnectionError, CLIJSONDecodeError, CLINotFoundError, ProcessError, ResultMessage

from ..auth.api_keys import find_api_key_sources, refuse_api_keys
from ..errors import ClaudeCodeError, ErrorKind
from ..metrics import Metrics
from ..protocol import ChatTurn, CompletionRequest, Finish, TextDelta
from .history import remove_stale_transcripts
from .options import SessionKey
from .pool import PoolSettings, WarmPool
from .scratch import ScratchSlots
from .session import Session
from .settings import EngineSettings
from .translate import TurnState, judge_result, redact

log = logging.getLogger(__name__)

OutcomeListener = Callable[[ClaudeCodeError | None], None]

# Kinds that say something about the login or the upstream, as opposed to this process or request.
_UPSTREAM_KINDS = {
    ErrorKind.NOT_LOGGED_IN,
    ErrorKind.USAGE_LIMIT,
    ErrorKind.RATE_LIMITED,
    ErrorKind.OVERLOADED,
    ErrorKind.UPSTREAM_ERROR,
}


class Engine:
    def __init__(
        self,
        settings: EngineSettings,
        on_outcome: OutcomeListener | None = None,
        *,
        pool: PoolSettings | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._on_outcome = on_outcome
        self._slots = ScratchSlots(settings.scratch_root)
        self._closing: set[asyncio.Task[None]] = set()
        self.pool = WarmPool(pool, self._spawn_warm, self.metrics) if pool is not None and pool.size > 0 else None
        # The SDK otherwise runs `claude -v` before every process to check a version it bundled itself.
        os.environ.setdefault("CLAUDE_AGENT_SDK_SKIP_VERSION_CHECK", "1")

    @property
    def config_dir(self) -> Path:
        return self.settings.config_dir or Path.home() / ".claude"

    async def start(self) -> None:
        """Remove what killed predecessors left behind, then start keeping warm processes (owned by the
        running event loop)."""
        # A transcript is read when its CLI starts; one older than a whole request is nobody's.
        removed = remove_stale_transcripts(
            self.config_dir, self.settings.scratch_root, older_than=self.settings.request_timeout
        )
        if removed:
            log.info("Removed stale history transcripts", extra={"count": removed})
        if self.pool is not None and self.pool.loop is None:
            self.pool.start()

    async def close(self) -> None:
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self.pool is not None:
            await self.pool.close()
        self._slots.close()

    async def _start_session(self, key: SessionKey, history: list[ChatTurn]) -> Session:
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                return await Session.start(
                    key,
                    history,
                    settings=self.settings,
                    slots=self._slots,
                    metrics=self.metrics,
                    config_dir=self.config_dir,
                )
        except CLINotFoundError as error:
            searched = self.settings.cli_path or "the claude-agent-sdk's bundled CLI and PATH"
            raise ClaudeCodeError(
                ErrorKind.CLI_NOT_FOUND,
                f"Claude Code CLI not found (searched {searched}): {redact(str(error))}. "
                "Install claude-agent-sdk with its bundled CLI or set CLAUDE_CODE_CLI_PATH.",
            ) from None
        except TimeoutError:
            raise ClaudeCodeError(
                ErrorKind.TIMEOUT, f"Claude Code did not start within {self.settings.idle_timeout:.0f} s."
            ) from None
        except (ProcessError, CLIConnectionError, CLIJSONDecodeError) as error:
            raise ClaudeCodeError(ErrorKind.CLI_CRASHED, f"Claude Code failed to start: {redact(str(error))}") from None

    async def _spawn_warm(self, key: SessionKey) -> Session:
        return await self._start_session(key, [])

    def _report(self, error: ClaudeCodeError | None) -> None:
        self.metrics.requests.labels(outcome="ok" if error is None else error.kind.value).inc()
        if error is not None and error.kind in _UPSTREAM_KINDS:
            self.metrics.upstream_errors.labels(kind=error.kind.value).inc()
        if self._on_outcome is not None and (error is None or error.kind in _UPSTREAM_KINDS):
            self._on_outcome(error)

    def _take_warm(self, request: CompletionRequest) -> Session | None:
        if self.pool is None or not self.pool.usable():
            return None
        if request.history:
            self.metrics.record_take(False, "history")
            return None
        session = self.pool.take(SessionKey.of(request))
        self.metrics.record_take(session is not None, "" if session is not None else "empty")
        return session

    async def complete(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Finish]:
        """Text deltas as the model writes them, then one finish; failures raise ``ClaudeCodeError``."""
        started = time.monotonic()
        try:
            refuse_api_keys(find_api_key_sources(self.settings.config_dir))
            session = self._take_warm(request)
            if session is not None:
                try:
                    async for event in self._serve(session, request, started, "warm"):
                        yield event
                except ClaudeCodeError as error:
                    # A warm process that was already dead when the request came costs the request
                    # nothing: start a fresh one. Once the CLI has spoken, retrying could bill twice.
                    if session.heard_from or error.kind is not ErrorKind.CLI_CRASHED:
                        raise
                    log.warning("Warm process was dead; starting a fresh one")
                else:
                    return
                finally:
                    self._close_later(session)
            session = await self._start_session(SessionKey.of(request), request.history)
            try:
                async for event in self._serve(session, request, started, "cold"):
                    yield event
            finally:
                self._close_later(session)
        except ClaudeCodeError as error:
            self._report(error)
            log.warning("Request failed", extra={"kind": error.kind.value, "model": request.model})
            raise

    def _close_later(self, session: Session) -> None:
        """Stop a finished session off the request's path (the response need not wait for the CLI to exit),
        then let the pool refill: starting a replacement while a request runs would compete with it."""

        async def close() -> None:
            await session.close()
            if self.pool is not None and self.pool.usable():
                self.pool.wake()

        task = asyncio.get_running_loop().create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _serve(
        self, session: Session, request: CompletionRequest, started: float, path: str
    ) -> AsyncIterator[TextDelta | Finish]:
        deadline = started + self.settings.request_timeout
        state = TurnState()
        first = True
        assert session.client is not None
        try:
            try:
                async with asyncio.timeout(self.settings.idle_timeout):
                    await session.client.query(request.prompt)
            except TimeoutError:
                raise self._timed_out(self.settings.idle_timeout) from None
            stream = session.client.receive_response().__aiter__()
            while True:
                wait = max(0.0, min(self.settings.idle_timeout, deadline - time.monotonic()))
                try:
                    async with asyncio.timeout(wait):
                        message = await anext(stream)
                except StopAsyncIteration:
                    raise _crashed("Claude Code ended without a result", session) from None
                except TimeoutError:
                    raise self._timed_out(wait) from None
                session.heard_from = True
                event = state.observe(message)
                if isinstance(event, TextDelta):
                    if first:
                        self.metrics.first_token.labels(path=path).observe(time.monotonic() - started)
                        first = False
                    yield event
                elif event is not None or isinstance(message, ResultMessage):
                    if event is not None:
                        # A cut answer: the CLI is about to ask the model to go on; stop it first.
                        await session.close()
                    finish = event or judge_result(message, state)  # type: ignore[arg-type]
                    self._report(None)
                    self.metrics.latency.labels(path=path).observe(time.monotonic() - started)
                    log.info(
                        "Request finished",
                        extra={"model": request.model, "path": path, "seconds": round(time.monotonic() - started, 3)},
                    )
                    yield finish
                    return
        except (ProcessError, CLIConnectionError, CLIJSONDecodeError) as error:
            raise _crashed(f"Claude Code failed: {redact(str(error))}", session) from None

    def _timed_out(self, wait: float) -> ClaudeCodeError:
        return ClaudeCodeError(
            ErrorKind.TIMEOUT,
            f"Claude Code gave no answer within {wait:.0f} s (request time-out "
            f"{self.settings.request_timeout:.0f} s, idle time-out {self.settings.idle_timeout:.0f} s).",
        )


def _crashed(summary: str, session: Session) -> ClaudeCodeError:
    tail = redact("\n".join(session.stderr_tail).strip())[-2000:]
    return ClaudeCodeError(ErrorKind.CLI_CRASHED, f"{summary}. stderr: {tail or '(empty)'}")
