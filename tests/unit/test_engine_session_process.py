"""A session tells whether its CLI lives and how much memory it holds, from the process itself (psutil),
so the warm pool works where there is no /proc."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from claude_code_devkit.waiting import wait_until
from claude_code_provider.engine.options import SessionKey
from claude_code_provider.engine.session import Session, _process_of, to_api_model
from claude_code_provider.metrics import Metrics


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"up\n"  # a running interpreter, not a process still being exec'd
    yield process
    process.kill()
    process.wait()


def session_of(process: subprocess.Popen[bytes]) -> Session:
    session = Session(SessionKey(model="sonnet"), Metrics())
    client = SimpleNamespace(_transport=SimpleNamespace(_process=process))
    session._process = _process_of(client)  # type: ignore[arg-type]
    return session


def test_a_running_cli_is_alive_and_reports_its_memory(child: subprocess.Popen[bytes]) -> None:
    session = session_of(child)
    assert session.alive()
    rss = session.rss_bytes()
    assert rss is not None
    assert rss > 1024 * 1024


def test_a_dead_cli_is_not_alive_whether_reaped_or_not(child: subprocess.Popen[bytes]) -> None:
    session = session_of(child)
    child.kill()
    wait_until(
        lambda: not session.alive(),
        timeout=10,
        what="the killed process seen dead (a zombie)",
        ignore=(Exception,),
        interval=0.05,
    )
    child.wait()
    assert not session.alive()
    assert session.rss_bytes() is None


def test_a_session_without_a_process_is_not_alive() -> None:
    session = Session(SessionKey(model="sonnet"), Metrics())
    assert not session.alive()
    assert session.rss_bytes() is None


SERVER_INFO = {
    "models": [
        {"value": "default", "resolvedModel": "claude-sonnet-5-5"},
        {"value": "sonnet", "resolvedModel": "claude-sonnet-5-5"},
        {"value": "opus", "resolvedModel": "claude-opus-5-5"},
    ]
}


@pytest.mark.parametrize(
    ("info", "model", "called"),
    [
        (SERVER_INFO, "sonnet", "claude-sonnet-5-5"),
        (SERVER_INFO, "opus", "claude-opus-5-5"),
        (SERVER_INFO, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
        ({"models": [{"value": "sonnet"}]}, "sonnet", "sonnet"),
        ({}, "sonnet", "sonnet"),
        (None, "sonnet", "sonnet"),
    ],
)
def test_the_model_the_cli_calls_is_an_alias_as_its_initialize_answer_resolves_it(
    info: dict[str, object] | None, model: str, called: str
) -> None:
    assert to_api_model(info, model) == called
