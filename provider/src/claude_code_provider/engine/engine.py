"""Run one request through a Claude Code CLI process and stream its events.

A request takes a warm process from the pool when there is one for its model and output limit: one kept
from an earlier request with the same options, or a parked spare it claims with its system prompt. Earlier
turns are fed into that process without a model call, so the upstream gets the same single request a
resumed CLI would send. Otherwise (no warm process, or a history the frames cannot carry) the request starts
a process of its own, resuming the history from a transcript. After a clean answer a warm process is
rewound to an empty conversation and given back; after anything else, and always for a cold one that
resumed a transcript, it is stopped and cleaned up, also when the consumer stops listening half-way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from claude_agent_sdk import (
    CLIConnectionError,
    CLIJSONDecodeError,
    CLINotFoundError,
    Message,
    ProcessError,
    RateLimitEvent,
    RateLimitInfo,
    ResultMessage,
)
from claude_agent_sdk._errors import MessageParseError  # raised by the SDK, not exported by it

from ..auth.api_keys import find_api_key_sources, refuse_api_keys
from ..auth.login import Login
from ..errors import ClaudeCodeError, ErrorKind
from ..metrics import Metrics
from ..protocol import AnswerEvent, ChatTurn, CompletionRequest, Finish, ReasoningDelta, TextDelta, ThinkingBlock
from .frames import answered_calls, split_frames, uses_tools
from .history import can_feed, remove_stale_transcripts
from .options import SessionKey
from .pool import PoolSettings, WarmPool
from .scratch import ScratchSlots
from .session import ProtocolError, Session
from .settings import EngineSettings
from .stops import StopText
from .tool_calls import ToolCallStream
from .translate import TurnState, judge_result, redact, to_usage

log = logging.getLogger(__name__)

OutcomeListener = Callable[[ClaudeCodeError | None], None]
RateLimitListener = Callable[[RateLimitInfo], None]

# Kinds that say something about the login or the upstream, as opposed to this process or request.
_UPSTREAM_KINDS = {
    ErrorKind.NOT_LOGGED_IN,
    ErrorKind.LOGIN_REVOKED,
    ErrorKind.ORGANIZATION_DISABLED,
    ErrorKind.OAUTH_NOT_ALLOWED,
    ErrorKind.EXTRA_USAGE_REQUIRED,
    ErrorKind.PERMISSION_DENIED,
    ErrorKind.BILLING,
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
        on_rate_limit: RateLimitListener | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._on_outcome = on_outcome
        self._on_rate_limit = on_rate_limit  # every answer's usage windows
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

    def use_login(self, login: Login | None) -> None:
        """A new login from the Secret: later CLIs use it; warm ones, started with the old one, are replaced."""
        token = login.oauth_token if login is not None else None
        self.settings = self.settings.model_copy(update={"oauth_token": token})
        if self.pool is not None and self.pool.usable():
            self.pool.flush()

    async def _start_session(self, key: SessionKey, history: list[ChatTurn], *, park: bool = False) -> Session:
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                return await Session.start(
                    key,
                    history,
                    park=park,
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
        generation = self.pool.generation if self.pool is not None else 0
        session = await self._start_session(key, [], park=True)
        session.generation = generation
        return session

    def _report(self, error: ClaudeCodeError | None) -> None:
        self.metrics.requests.labels(outcome="ok" if error is None else error.kind.value).inc()
        if error is not None and error.kind in _UPSTREAM_KINDS:
            self.metrics.upstream_errors.labels(kind=error.kind.value).inc()
        if self._on_outcome is not None and (error is None or error.kind in _UPSTREAM_KINDS):
            self._on_outcome(error)

    def _take_warm(self, request: CompletionRequest) -> Session | None:
        if self.pool is None or not self.pool.usable():
            return None
        if uses_tools(request):
            # The process whose answer made the calls these results answer holds the conversation.
            _, prompt = split_frames(request)
            # It was started with the options asked for, or (fed the history itself) with fresh ones.
            keys = {SessionKey.of(request), SessionKey.fresh(request)}
            if (held := self.pool.take_pending(answered_calls(prompt), keys)) is not None:
                self.metrics.record_take(True)
                return held
        elif not can_feed(request.history):
            self.metrics.record_take(False, "history")
            return None
        session = self.pool.take(SessionKey.fresh(request))
        self.metrics.record_take(session is not None, "" if session is not None else "empty")
        return session

    async def _prepare_warm(self, session: Session, request: CompletionRequest) -> bool:
        """Claim a spare for the request's options and feed it the earlier turns; False (the process
        is stopped) when it would not: nothing has reached the model yet, so a cold start costs nothing."""
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                if session.claimed is None:
                    await session.claim(SessionKey.fresh(request))
                if not session.pending:  # a process that holds the conversation has all but the results
                    await session.feed(split_frames(request)[0])
        except (ProtocolError, TimeoutError, CLIConnectionError, ProcessError) as error:
            log.warning("Warm process refused the request; starting a fresh one", extra={"error": type(error).__name__})
            self._close_later(session)
            return False
        return True

    async def _feed_cold(self, session: Session, request: CompletionRequest) -> None:
        """Feed a fresh process the earlier messages of a conversation with tools (a transcript cannot end
        in pending calls faithfully)."""
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                await session.feed(split_frames(request)[0])
        except (ProtocolError, TimeoutError, CLIConnectionError, ProcessError) as error:
            summary = f"Claude Code would not take the earlier messages ({type(error).__name__})"
            raise _crashed(summary, session) from None

    async def complete(self, request: CompletionRequest) -> AsyncIterator[AnswerEvent]:
        """Text, thinking and tool calls as the model writes them, then one finish; failures raise
        ``ClaudeCodeError``."""
        started = time.monotonic()
        if request.tools:
            self.metrics.tool_requests.inc()
        try:
            refuse_api_keys(find_api_key_sources(self.settings.config_dir))
            session = self._take_warm(request)
            if session is not None:
                path = "continued" if session.pending else "reused" if session.claimed is not None else "spare"
                if await self._prepare_warm(session, request):
                    try:
                        async for event in self._serve(session, request, started, path):
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
                        self._finish_later(session)
            async for event in self._serve_cold(request, started):
                yield event
        except ClaudeCodeError as error:
            hinted = error.with_login_hint(self.settings.login_hint)
            self._report(hinted)
            log.warning("Request failed", extra={"kind": error.kind.value, "model": request.model})
            raise hinted from None
        except Exception as error:
            # Whatever it was, the client gets a mapped error and the metrics count it. The exception's
            # text stays out of the log: it may quote the request.
            log.error("Request failed unexpectedly", extra={"error": type(error).__name__, "model": request.model})
            failure = ClaudeCodeError(
                ErrorKind.INTERNAL,
                f"The claude-code provider failed unexpectedly ({type(error).__name__}); please report it.",
            )
            self._report(failure)
            raise failure from None

    async def _serve_cold(self, request: CompletionRequest, started: float) -> AsyncIterator[AnswerEvent]:
        """Serve the request from a process of its own: resuming a transcript of the history, or fed it
        when the conversation has tools."""
        generation = self.pool.generation if self.pool is not None else 0
        fed = uses_tools(request)
        key = SessionKey.fresh(request)
        session = await self._start_session(key, [] if fed else request.history)
        session.generation = generation
        if fed or not request.history:
            session.claimed = key  # started with these options: as good as a claimed spare
        path = ("fed" if fed else "resume") if request.history else "cold"
        try:
            if fed:
                await self._feed_cold(session, request)
            async for event in self._serve(session, request, started, path):
                yield event
        finally:
            self._finish_later(session)

    def _finish_later(self, session: Session) -> None:
        """Off the request's path: keep a process whose answer called tools for the results, rewind one
        that answered cleanly and give it back to the pool; stop any other (one that misbehaved once is
        never used again)."""
        pool = self.pool
        if not session.clean or session.claimed is None or pool is None or not pool.usable():
            self._close_later(session)
            return
        if session.pending:
            if not pool.hold_pending(session):
                self._close_later(session)
            return

        async def give_back() -> None:
            kept = False
            try:
                await session.reset()
                kept = pool.give_back(session)
            except (ProtocolError, CLIConnectionError, ProcessError) as error:
                log.warning("Warm process would not rewind; stopping it", extra={"error": type(error).__name__})
            finally:
                if not kept:  # also when cancelled: the loop is ending, the process must go with it
                    await session.close()
                    pool.wake()

        self._track(asyncio.get_running_loop().create_task(give_back()))

    def _close_later(self, session: Session) -> None:
        """Stop a finished session off the request's path (the response need not wait for the CLI to exit),
        then let the pool refill: starting a replacement while a request runs would compete with it."""

        async def close() -> None:
            await session.close()
            if self.pool is not None and self.pool.usable():
                self.pool.wake()

        self._track(asyncio.get_running_loop().create_task(close()))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _serve(
        self, session: Session, request: CompletionRequest, started: float, path: str
    ) -> AsyncIterator[AnswerEvent]:
        deadline = started + self.settings.request_timeout
        state = TurnState()
        calls = ToolCallStream()
        stops = StopText(request.stop)
        first = True
        assert session.client is not None
        try:
            try:
                async with asyncio.timeout(self.settings.idle_timeout):
                    await session.send(split_frames(request)[1].content)
            except TimeoutError:
                raise self._timed_out(self.settings.idle_timeout) from None
            stream = session.client.receive_response().__aiter__()
            while True:
                message = await self._next_message(stream, deadline, session)
                self._heard(session, message)
                for call_event in calls.observe(message):
                    yield call_event
                event = state.observe(message)
                if isinstance(event, ReasoningDelta | ThinkingBlock):
                    yield event
                    continue
                if isinstance(event, TextDelta):
                    text, stopped = stops.feed(event.text)
                    if text:
                        if first:
                            self.metrics.first_token.labels(path=_latency_path(path)).observe(
                                time.monotonic() - started
                            )
                            first = False
                        yield TextDelta(text=text)
                    if not stopped:
                        continue
                    event = Finish(finish_reason="stop", usage=to_usage(state.message_usage), model=state.model)
                elif event is None and not isinstance(message, ResultMessage):
                    continue
                if event is not None:
                    # A cut answer or a stop sequence: the CLI would go on (or ask the model to); stop it first.
                    await session.close()
                finish = event or judge_result(message, state)  # type: ignore[arg-type]
                if held := stops.flush():
                    yield TextDelta(text=held)
                # Only an answer the CLI itself ended leaves a process fit to serve again.
                session.clean = event is None and not message.is_error  # type: ignore[union-attr]
                self._record_finish(session, request, finish, calls, started, path)
                yield finish
                return
        except (ProcessError, CLIConnectionError, CLIJSONDecodeError, MessageParseError) as error:
            raise _crashed(_describe(error), session) from None

    async def _next_message(self, stream: AsyncIterator[Message], deadline: float, session: Session) -> Message:
        wait = max(0.0, min(self.settings.idle_timeout, deadline - time.monotonic()))
        try:
            async with asyncio.timeout(wait):
                return await anext(stream)
        except StopAsyncIteration:
            raise _crashed("Claude Code ended without a result", session) from None
        except TimeoutError:
            raise self._timed_out(wait) from None

    def _record_finish(
        self,
        session: Session,
        request: CompletionRequest,
        finish: Finish,
        calls: ToolCallStream,
        started: float,
        path: str,
    ) -> None:
        if finish.finish_reason == "tool_calls":
            session.pending = frozenset(calls.ids)  # the process holds the conversation until their results come
            self.metrics.tool_calls.inc(len(calls.ids))
        session.served += 1
        self._report(None)
        self.metrics.paths.labels(path=path).inc()
        self.metrics.latency.labels(path=_latency_path(path)).observe(time.monotonic() - started)
        log.info(
            "Request finished",
            extra={
                "model": request.model,
                "path": path,
                "seconds": round(time.monotonic() - started, 3),
                "tool_calls": len(calls.ids),
            },
        )

    def _heard(self, session: Session, message: object) -> None:
        session.heard_from = True
        if isinstance(message, RateLimitEvent) and self._on_rate_limit is not None:
            self._on_rate_limit(message.rate_limit_info)

    def _timed_out(self, wait: float) -> ClaudeCodeError:
        return ClaudeCodeError(
            ErrorKind.TIMEOUT,
            f"Claude Code gave no answer within {wait:.0f} s (request time-out "
            f"{self.settings.request_timeout:.0f} s, idle time-out {self.settings.idle_timeout:.0f} s).",
        )


def _latency_path(path: str) -> str:
    """The latency histograms keep their two labels: warm (reused, spare or continued) and cold (cold,
    resume or fed)."""
    return "warm" if path in ("reused", "spare", "continued") else "cold"


def _describe(error: Exception) -> str:
    if isinstance(error, MessageParseError):
        return (
            f"Claude Code sent a message this provider cannot read ({redact(str(error))[:200]}); "
            "claude-agent-sdk and its CLI may need updating"
        )
    return f"Claude Code failed: {redact(str(error))}"


def _crashed(summary: str, session: Session) -> ClaudeCodeError:
    tail = redact("\n".join(session.stderr_tail).strip())[-2000:]
    return ClaudeCodeError(ErrorKind.CLI_CRASHED, f"{summary}. stderr: {tail or '(empty)'}")
