"""Failures the engine does not foresee still reach the client as a mapped error and are counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from claude_agent_sdk._errors import MessageParseError

from claude_code_provider.engine.engine import Engine
from claude_code_provider.engine.options import SessionKey
from claude_code_provider.engine.session import Session
from claude_code_provider.engine.settings import EngineSettings
from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.metrics import Metrics
from claude_code_provider.protocol import ChatTurn, CompletionRequest

REQUEST = CompletionRequest(model="sonnet", messages=[ChatTurn(role="user", content="hi")])


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return Engine(EngineSettings(config_dir=tmp_path / "config", scratch_root=tmp_path / "scratch"))


async def failure(engine: Engine) -> ClaudeCodeError:
    with pytest.raises(ClaudeCodeError) as caught:
        async for _ in engine.complete(REQUEST):
            pass
    return caught.value


def count(engine: Engine, outcome: str) -> float | None:
    return engine.metrics.registry.get_sample_value("claude_code_requests_total", {"outcome": outcome})


async def test_an_unforeseen_exception_is_a_500_naming_its_type_and_counted(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> Session:
        raise KeyError("not for the client's eyes")

    monkeypatch.setattr(Session, "start", broken)
    error = await failure(engine)
    assert (error.kind, error.status) == (ErrorKind.INTERNAL, 500)
    assert "KeyError" in error.message
    assert "client's eyes" not in error.message
    assert count(engine, "internal_error") == 1


async def test_a_message_the_sdk_cannot_parse_is_a_crashed_cli_and_counted(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def receive() -> AsyncIterator[object]:
        raise MessageParseError("Unknown message type: brand_new")
        yield  # an async generator

    async def write(_frame: str) -> None:
        return None

    async def started(*_args: object, **_kwargs: object) -> Session:
        session = Session(SessionKey(model="sonnet"), Metrics())
        transport = SimpleNamespace(write=write)
        session.client = SimpleNamespace(_transport=transport, receive_response=receive)  # type: ignore[assignment]
        return session

    monkeypatch.setattr(Session, "start", started)
    error = await failure(engine)
    assert (error.kind, error.status) == (ErrorKind.CLI_CRASHED, 502)
    assert "cannot read" in error.message
    assert "brand_new" in error.message
    assert count(engine, "cli_crashed") == 1
