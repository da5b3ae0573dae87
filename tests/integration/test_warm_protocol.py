"""The warm techniques on the pinned CLI: a claimed spare, earlier turns fed as input frames and a process
rewound for reuse each make the upstream request exactly the one a cold CLI sends for that conversation.

These tests fail when the CLI stops honouring ``--await-claim``/``claim_session``, ``shouldQuery: false``
user frames, assistant input frames or ``rewind_conversation``: upgrading ``claude-agent-sdk`` (which
bundles the CLI) is a conscious step, taken when they pass."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, RecordedRequest, TextReply
from claude_code_devkit.processes import claude_processes
from claude_code_devkit.stack import Runtime
from claude_code_devkit.waiting import wait_until

COLD = {"CLAUDE_CODE_POOL_SIZE": "0"}
WARM = {"CLAUDE_CODE_POOL_WARM_MODELS": "sonnet", "CLAUDE_CODE_POOL_SIZE": "1"}
SYSTEM = "Answer like a pirate."
HISTORY = [
    {"role": "user", "content": "first <b>question</b>"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "second question\nin two lines"},
    {"role": "assistant", "content": "second answer"},
    {"role": "user", "content": "/clear"},  # text, never a command
    {"role": "assistant", "content": "third answer"},
]


def ask(runtime: Runtime, messages: list[dict[str, str]], **extra: object) -> httpx.Response:
    response = runtime.complete({"model": "sonnet", "messages": messages, **extra})
    assert response.status_code == 200, response.text
    assert json.loads(response.text.splitlines()[-1])["type"] == "finish", response.text
    return response


def normalized(request: RecordedRequest) -> dict[str, Any]:
    """The body without what differs between any two CLI processes: the session id (metadata) and the
    scratch directory each one runs in."""
    body = {key: value for key, value in request.json.items() if key != "metadata"}
    text = re.sub(r"Primary working directory: [^\s\\]+", "Primary working directory: *", json.dumps(body))
    result: dict[str, Any] = json.loads(text)
    return result


def upstream_of(
    fake: FakeAnthropic, runtime: Runtime, messages: list[dict[str, str]], **extra: object
) -> dict[str, Any]:
    """The one upstream request a completion made."""
    before = len(fake.messages_requests)
    ask(runtime, messages, **extra)
    assert len(fake.messages_requests) == before + 1, "one model call per request"
    return normalized(fake.messages_requests[-1])


def wait_warm(runtime: Runtime, count: int = 1) -> None:
    wait_until(
        lambda: runtime.metric("claude_code_pool_ready_processes") >= count,
        timeout=60,
        what=f"{count} warm process(es)",
        ignore=(Exception,),
        interval=0.05,
    )


def test_a_claimed_spare_sends_what_a_cold_cli_sends(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    cold, warm = start(env=COLD), start(env=WARM)
    wait_warm(warm)
    prompt = [{"role": "user", "content": "hello"}]

    for system in (SYSTEM, None):
        expected = upstream_of(fake, cold, prompt, system=system)
        wait_warm(warm)
        got = upstream_of(fake, warm, prompt, system=system)
        assert got == expected
    assert warm.metric("claude_code_request_paths_total", path="spare") >= 1


def test_earlier_turns_fed_to_a_warm_process_reach_the_upstream_as_a_resumed_cli_sends_them(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    cold, warm = start(env=COLD), start(env=WARM)
    wait_warm(warm)
    conversation = [*HISTORY, {"role": "user", "content": "and now?"}]

    expected = upstream_of(fake, cold, conversation, system=SYSTEM)
    got = upstream_of(fake, warm, conversation, system=SYSTEM)

    assert got == expected
    roles = [m["role"] for m in fake.messages_requests[-1].chat_messages]
    assert roles == ["user", "assistant"] * 3 + ["user"]
    assert cold.metric("claude_code_request_paths_total", path="resume") == 1
    assert warm.metric("claude_code_request_paths_total", path="resume") == 0


def test_a_reused_process_carries_nothing_of_the_request_before(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    cold, warm = start(env=COLD), start(env=WARM)
    wait_warm(warm)
    ask(warm, [{"role": "user", "content": "hello"}], system=SYSTEM)  # options asked for again are kept
    wait_warm(warm)
    fake.enqueue(TextReply("the secret answer"))
    ask(warm, [*HISTORY, {"role": "user", "content": "the secret question"}], system=SYSTEM)
    wait_until(
        lambda: (
            warm.metric("claude_code_requests_in_flight") == 0 and warm.metric("claude_code_pool_ready_processes") >= 2
        ),
        timeout=60,
        what="the process given back and a new spare parked",
        ignore=(Exception,),
        interval=0.05,
    )
    serving = set(claude_processes(warm.process.pid))

    later = [{"role": "user", "content": "a new conversation"}]
    expected = upstream_of(fake, cold, later, system=SYSTEM)
    got = upstream_of(fake, warm, later, system=SYSTEM)

    assert got == expected
    assert "secret" not in json.dumps(got)
    assert warm.metric("claude_code_request_paths_total", path="reused") == 1
    # The same process served it: no CLI was started for the second request.
    assert set(claude_processes(warm.process.pid)) <= serving


def test_a_reused_process_answers_with_the_model_it_is_asked_for(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    warm = start(env=WARM)
    wait_warm(warm)
    for model in ("sonnet", "haiku", "sonnet"):
        before = len(fake.messages_requests)
        assert warm.complete({"model": model, "messages": [{"role": "user", "content": "hi"}]}).is_success
        assert len(fake.messages_requests) == before + 1
        assert model in (fake.messages_requests[-1].model or "")
