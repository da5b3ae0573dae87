"""One connected Claude Code CLI process: started cold for one request, or parked ahead of time.

A cold session fixes everything at start-up (``SessionKey``; a request with history resumes a transcript
written for it). A parked session (``--await-claim``, the warm pool) is started with only what must be
known at start-up (model, output limit) and is bound to a request's system prompt by ``claim``; earlier
turns are fed into it as input frames (``feed``), and after a clean answer ``reset`` rewinds it to an empty
conversation so that it can serve the next request with the same options. ``claim_session`` and
``rewind_conversation`` are internal protocol of the pinned CLI (tests/integration/test_warm_protocol.py
fails when they stop working).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import anyio
import psutil
from claude_agent_sdk import ClaudeSDKClient
from claude_agent_sdk._internal.query import Query  # the control protocol, which the SDK keeps private

from ..metrics import Metrics
from ..protocol import ChatTurn
from .frames import Content, Frame
from .history import write_transcript
from .options import SessionKey, render_options
from .scratch import ScratchSlots
from .settings import EngineSettings

_CLOSE_TIMEOUT = 10.0
_CONTROL_TIMEOUT = 10.0


class ProtocolError(Exception):
    """The CLI did not do what the warm protocol expects: the process must not be used again."""


class Session:
    def __init__(self, key: SessionKey, metrics: Metrics) -> None:
        self.key = key
        self.created = self.idle_since = time.monotonic()
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.client: ClaudeSDKClient | None = None
        self.heard_from = False  # whether the CLI sent anything about the request it was given
        self.cwd: Path | None = None
        self.claimed: SessionKey | None = None  # the options a parked process was bound to
        self.served = 0  # requests answered
        self.generation = 0  # the pool's generation when it started (see ``WarmPool.flush``)
        self.clean = False  # whether the last answer ended as the CLI ended it (no cut, no stop, no error)
        self.pending: frozenset[str] = frozenset()  # the tool calls the last answer ended with, for the client
        self._first: str | None = None  # the conversation's first message, where ``reset`` rewinds to
        self._prompt: str | None = None  # the last prompt sent, which the CLI wants named to rewind past it
        self._metrics = metrics
        self._files = ExitStack()
        self._transcript: Path | None = None
        self._counted = False
        self._process: psutil.Process | None = None
        self._api_model = key.model  # the model the CLI calls (an alias resolved), known once it is connected

    @classmethod
    async def start(
        cls,
        key: SessionKey,
        history: list[ChatTurn],
        *,
        park: bool = False,
        settings: EngineSettings,
        slots: ScratchSlots,
        metrics: Metrics,
        config_dir: Path,
    ) -> Session:
        """Start and connect a CLI for ``key`` (resuming ``history`` if any), or a parked one to be claimed
        (``park``; only the model and output limit of ``key`` count); the caller must ``close`` it."""
        session = cls(key, metrics)
        try:
            cwd = session.cwd = session._files.enter_context(slots.lease())
            resume = None
            if history:
                resume, session._transcript = write_transcript(history, config_dir=config_dir, cwd=cwd, model=key.model)
            options = render_options(
                key,
                settings,
                cwd=cwd,
                resume=resume,
                park=park,
                stderr=session.stderr_tail.append,
                environ=os.environ,
            )
            session.client = ClaudeSDKClient(options)
            metrics.cli_processes.inc()
            session._counted = True
            await session.client.connect()
            session._process = _process_of(session.client)
            session._api_model = to_api_model(await session.client.get_server_info(), key.model)
        except BaseException:
            await session.close()
            raise
        return session

    async def claim(self, key: SessionKey) -> None:
        """Bind a parked process to ``key``'s system prompt, in the directory it was parked in (its own)."""
        request: dict[str, object] = {"subtype": "claim_session", "cwd": str(self.cwd)}
        if key.system:
            request["system_prompt"] = [key.system]
        response = await self._control(request)
        if response.get("status") != "ok":
            raise ProtocolError(f"claim_session answered {response.get('status')!r}")
        self.claimed = key

    async def feed(self, history: list[Frame]) -> None:
        """Add earlier messages to the conversation without a model call: a user message as a frame that
        does not query (waiting until the CLI has appended it, as such frames pass through a queue that
        assistant frames do not), an assistant message as an assistant frame."""
        query = self._query()
        for frame in history:
            frame_id = str(uuid.uuid4())
            self._first = self._first or frame_id
            if frame.role == "user":
                await self._write(_user_frame(frame.content, frame_id, should_query=False))
                await self._appended(query.receive_messages(), frame_id)
            else:
                content = [{"type": "text", "text": frame.content}] if isinstance(frame.content, str) else frame.content
                message: dict[str, object] = {"role": "assistant", "content": content}
                if frame.in_tool_loop:
                    # The CLI drops the thinking of a message whose model is not the one it calls (a signature
                    # is bound to its model): without this, a tool loop's thinking would not reach the model.
                    message["model"] = self._api_model
                await self._write(
                    {
                        "type": "assistant",
                        "message": message,
                        "parent_tool_use_id": None,
                        "session_id": "default",
                        "uuid": frame_id,
                    }
                )

    async def send(self, prompt: Content) -> None:
        """Ask the model: the prompt as written (never a slash command), or the client's tool results, as
        the conversation's last message."""
        frame_id = self._prompt = str(uuid.uuid4())
        self._first = self._first or frame_id
        self.pending = frozenset()
        await self._write(_user_frame(prompt, frame_id, should_query=True))

    async def reset(self) -> None:
        """Rewind to an empty conversation (the system prompt stays), so the next request sees nothing
        of this one; ``ProtocolError`` when the CLI would not."""
        if self._first is None:
            return
        response = await self._control(
            {
                "subtype": "rewind_conversation",
                "target_message_uuid": self._first,
                # Without it a fed (non-querying) first turn counts as stale and the CLI refuses.
                "last_seen_user_message_uuid": self._prompt,
            }
        )
        if response.get("rewound") is not True:
            raise ProtocolError(f"rewind_conversation refused: {response.get('cause') or response.get('reason')!r}")
        self._first = self._prompt = None
        self.heard_from = self.clean = False
        self.pending = frozenset()

    def _query(self) -> Query:
        query = getattr(self.client, "_query", None)
        if not isinstance(query, Query):
            raise ProtocolError("the session is not connected")
        return query

    async def _write(self, frame: dict[str, object]) -> None:
        transport = getattr(self.client, "_transport", None)
        if transport is None:
            raise ProtocolError("the session is not connected")
        await transport.write(json.dumps(frame, ensure_ascii=False) + "\n")

    async def _control(self, request: dict[str, object]) -> dict[str, object]:
        try:
            response = await self._query()._send_control_request(request, timeout=_CONTROL_TIMEOUT)
        except ProtocolError:
            raise
        except Exception as error:  # the SDK raises plain Exception for a control error
            raise ProtocolError(f"{request['subtype']} failed: {type(error).__name__}") from None
        return response or {}

    @staticmethod
    async def _appended(messages: AsyncIterator[dict[str, object]], frame_id: str) -> None:
        async with asyncio.timeout(_CONTROL_TIMEOUT):
            async for message in messages:
                done = message.get("type") == "command_lifecycle" and message.get("state") == "completed"
                if done and message.get("command_uuid") == frame_id:
                    return
        raise ProtocolError("the CLI stopped before it took an earlier turn")

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


def _user_frame(content: Content, frame_id: str, *, should_query: bool) -> dict[str, object]:
    frame: dict[str, object] = {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "session_id": "default",
        "uuid": frame_id,
        # Delivered as written: never a slash command or an `@path` mention (as ``verbatim_prompts``).
        "client_composed": True,
    }
    if not should_query:
        frame["shouldQuery"] = False
    return frame


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


def to_api_model(server_info: Mapping[str, Any] | None, model: str) -> str:
    """Pure: the model the CLI calls for ``model``: an alias (``sonnet``) resolved as the CLI's initialize
    answer lists it, any other name as given."""
    listed = (server_info or {}).get("models")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, Mapping) and entry.get("value") == model and isinstance(entry.get("resolvedModel"), str):
            return str(entry["resolvedModel"])
    return model
