"""`claude-code/<model>` from LiteLLM's Python SDK in this process, blocking and async, after `register()`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import litellm
import pytest

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply, Usage
from claude_code_devkit.processes import claude_processes
from claude_code_devkit.stack import FAKE_TOKEN
from claude_code_devkit.waiting import wait_until
from claude_code_provider.llm import handler
from claude_code_provider.llm.handler import ClaudeCodeLLM, register


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """An upstream of this test's own: the session's shared one also answers the session's runtimes and
    proxy, and a late request of theirs can take the reply this test scripted (CI saw the stream get the
    default reply; which request took ``a, b, c`` was not recorded)."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def provider(fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClaudeCodeLLM:
    """A provider of this test's own, registered as ``register()`` does: the module's singleton keeps the
    engine (and so the environment) of its first request, which would tie each test to the one before."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")
    monkeypatch.setenv("CLAUDE_CODE_SCRATCH_DIR", str(tmp_path / "scratch"))
    fresh = ClaudeCodeLLM()
    monkeypatch.setattr(handler, "claude_code_llm", fresh)
    register()
    return fresh


def working_directory_told(fake: FakeAnthropic, index: int = 0) -> Path:
    found = re.search(r"Primary working directory: ([^\s\\\"]+)", json.dumps(fake.messages_requests[index].json))
    assert found is not None
    return Path(found.group(1))


def test_blocking_completion_runs_in_an_empty_private_directory_it_removes(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.enqueue(TextReply("blocking", usage=Usage(input_tokens=3, output_tokens=1)))

    reply = litellm.completion(model="claude-code/haiku", messages=[{"role": "user", "content": "hi"}])

    assert reply.choices[0].message.content == "blocking"
    assert reply.usage.prompt_tokens == 3
    cwd = working_directory_told(fake)
    assert cwd.parent.parent == tmp_path / "scratch"
    assert stat.S_IMODE(cwd.parent.stat().st_mode) == 0o700
    wait_until(
        lambda: not cwd.exists(), timeout=20, what="the scratch directory removed", ignore=(Exception,), interval=0.05
    )


def test_links_planted_in_the_scratch_root_are_neither_used_nor_emptied(fake: FakeAnthropic, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    root = tmp_path / "scratch"
    root.mkdir()
    # The names the provider used to use, and the slot names it uses inside its private directory.
    for name in ("claude-code-scratch", "slot-0", "slot-1"):
        (root / name).symlink_to(victim, target_is_directory=True)
    fake.enqueue(TextReply("still safe"))

    reply = litellm.completion(model="claude-code/haiku", messages=[{"role": "user", "content": "hi"}])

    assert reply.choices[0].message.content == "still safe"
    cwd = working_directory_told(fake)
    assert not cwd.resolve().is_relative_to(victim)
    wait_until(
        lambda: not cwd.exists(), timeout=20, what="the scratch directory removed", ignore=(Exception,), interval=0.05
    )
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text() == "keep me"


def test_blocking_stream(fake: FakeAnthropic) -> None:
    fake.enqueue(TextReply(["a", "b", "c"]))

    chunks = litellm.completion(model="claude-code/haiku", messages=[{"role": "user", "content": "hi"}], stream=True)

    assert [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content] == ["a", "b", "c"]


async def test_async_stream_keeps_warm_processes_until_closed(fake: FakeAnthropic, provider: ClaudeCodeLLM) -> None:
    fake.enqueue(TextReply(["x", "y"]))

    stream = await litellm.acompletion(
        model="claude-code/sonnet", messages=[{"role": "user", "content": "hi"}], stream=True
    )

    assert [c.choices[0].delta.content async for c in stream if c.choices[0].delta.content] == ["x", "y"]
    # After its request, the in-process provider keeps a warm process for the next one ...
    # (Its CLIs are children of this process; the session's runtimes and proxy have their own.)
    await async_wait_until(lambda: claude_processes(os.getpid(), direct=True), what="a warm process")
    await provider.aclose()
    # ... until it is closed.
    assert claude_processes(os.getpid(), direct=True) == []


async def async_wait_until(check: Callable[[], object], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        await asyncio.sleep(0.05)


def test_failures_raise_litellm_exceptions(fake: FakeAnthropic) -> None:
    from claude_code_devkit.fakes.anthropic_api import rate_limit_error

    fake.enqueue(rate_limit_error())

    with pytest.raises(litellm.RateLimitError, match="usage limit"):
        litellm.completion(model="claude-code/sonnet", messages=[{"role": "user", "content": "hi"}])


def test_each_event_loop_stops_its_warm_processes_when_it_ends(fake: FakeAnthropic) -> None:
    async def ask_and_let_a_process_warm_up() -> str | None:
        reply = await litellm.acompletion(model="claude-code/sonnet", messages=[{"role": "user", "content": "hi"}])
        await async_wait_until(lambda: claude_processes(os.getpid(), direct=True), what="a warm process")
        return reply.choices[0].message.content  # type: ignore[no-any-return]

    for turn in range(3):
        fake.enqueue(TextReply(f"answer {turn}"))
        assert asyncio.run(ask_and_let_a_process_warm_up()) == f"answer {turn}"
        # The loop that owned the warm process is gone, and so is the process.
        wait_until(
            lambda: not claude_processes(os.getpid(), direct=True),
            timeout=10,
            what="no CLI left",
            ignore=(Exception,),
            interval=0.05,
        )


def test_a_lone_surrogate_in_the_history_is_a_bad_request(fake: FakeAnthropic) -> None:
    history = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "bad \ud800"}]

    with pytest.raises(litellm.BadRequestError, match=r"messages\[1\].*lone surrogate"):
        litellm.completion(model="claude-code/sonnet", messages=[*history, {"role": "user", "content": "two"}])
    assert fake.messages_requests == []
