"""Where a request runs: in this process (local use) or in the pod's runtime (``api_base``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Protocol

import httpx

from ..engine.admission import Admission, AdmissionSettings
from ..engine.engine import Engine
from ..engine.pool import PoolSettings
from ..engine.settings import EngineSettings
from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import COMPLETE_PATH, AnswerEvent, CompletionRequest, ErrorEvent, decode_event
from ..runtime_token import AUTHORIZATION, MISSING_TOKEN, RuntimeTokenError, fetch_runtime_token


class Backend(Protocol):
    def events(self, request: CompletionRequest) -> AsyncIterator[AnswerEvent]: ...


class LocalBackend:
    """Runs the CLI in this process, with this process's environment and login.

    With ``warm`` every event loop gets an engine of its own that keeps warm processes
    (``CLAUDE_CODE_POOL_*``), behind the runtime's admission limits (``CLAUDE_RUNTIME_MAX_*``); its
    processes stop when that loop ends (or on ``aclose``). Without it (the blocking API, whose calls each
    run a short-lived loop) one engine without warm processes serves every call.
    """

    def __init__(self, *, warm: bool) -> None:
        self._warm = warm
        self._engines: dict[asyncio.AbstractEventLoop | None, tuple[Engine, Admission | None]] = {}

    async def _engine(self) -> tuple[Engine, Admission | None]:
        for stale in [loop for loop in self._engines if loop is not None and loop.is_closed()]:
            del self._engines[stale]
        loop = asyncio.get_running_loop() if self._warm else None
        if loop not in self._engines:
            engine = Engine(EngineSettings.from_env(), pool=PoolSettings.from_env() if self._warm else None)
            admission = Admission(AdmissionSettings.from_env(), engine.metrics) if self._warm else None
            self._engines[loop] = engine, admission
            await engine.start()
        return self._engines[loop]

    async def events(self, request: CompletionRequest) -> AsyncIterator[AnswerEvent]:
        engine, admission = await self._engine()
        if admission is not None:
            await admission.enter()
        try:
            async for event in engine.complete(request):
                yield event
        finally:
            if admission is not None:
                admission.leave()

    async def aclose(self) -> None:
        """Stop the warm processes of the running event loop."""
        engine, _ = self._engines.pop(asyncio.get_running_loop() if self._warm else None, (None, None))
        if engine is not None:
            await engine.close()


class RemoteBackend:
    """Calls the runtime's completion API, which holds the login; this side never sees it. It sends the
    pod's runtime token (``CLAUDE_RUNTIME_TOKEN``, else the file ``CLAUDE_RUNTIME_TOKEN_FILE``)."""

    def __init__(self, api_base: str, timeout: float) -> None:
        self._url = api_base.rstrip("/") + COMPLETE_PATH
        # The runtime enforces the request deadline; this one only guards against a vanished peer.
        self._timeout = httpx.Timeout(timeout, connect=5.0)

    async def events(self, request: CompletionRequest) -> AsyncIterator[AnswerEvent]:
        try:
            token = fetch_runtime_token(os.environ)
        except RuntimeTokenError as error:
            raise ClaudeCodeError(ErrorKind.RUNTIME_REFUSED, str(error)) from None
        if token is None:
            raise ClaudeCodeError(ErrorKind.RUNTIME_REFUSED, MISSING_TOKEN)
        try:
            async with _client().stream(
                "POST",
                self._url,
                content=request.model_dump_json(),
                headers={AUTHORIZATION: f"Bearer {token}"},
                timeout=self._timeout,
            ) as response:
                if response.status_code != 200:
                    raise _error_from_body(await response.aread(), response.status_code)
                async for line in response.aiter_lines():
                    if not line:
                        continue
                    event = decode_event(line)
                    if isinstance(event, ErrorEvent):
                        raise event.to_error()
                    yield event
        except httpx.TimeoutException:
            raise ClaudeCodeError(ErrorKind.TIMEOUT, f"The runtime at {self._url} did not answer in time.") from None
        except httpx.TransportError as error:
            raise ClaudeCodeError(
                ErrorKind.CLI_CRASHED, f"The runtime at {self._url} is unreachable: {type(error).__name__}."
            ) from None


_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


def _client() -> httpx.AsyncClient:
    """One keep-alive client per event loop: the runtime is a loopback hop away on every request."""
    loop = asyncio.get_running_loop()
    for stale in [other for other in _clients if other.is_closed()]:
        del _clients[stale]
    if loop not in _clients:
        # trust_env=False: the runtime is on loopback, whatever proxy the environment names.
        _clients[loop] = httpx.AsyncClient(trust_env=False)
    return _clients[loop]


def _error_from_body(body: bytes, status: int) -> ClaudeCodeError:
    try:
        return ErrorEvent.model_validate_json(body).to_error()
    except ValueError:
        text = body.decode(errors="replace")[:300]
        return ClaudeCodeError(ErrorKind.UPSTREAM_ERROR, f"The runtime answered {status}: {text}")
