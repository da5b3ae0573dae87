"""Warm Claude Code processes in the runtime: parked spares and reused processes, refilled, bounded, observable."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.processes import claude_processes
from claude_code_devkit.stack import Runtime
from claude_code_devkit.waiting import wait_until

WARM = {"CLAUDE_CODE_POOL_WARM_MODELS": "sonnet", "CLAUDE_CODE_POOL_SIZE": "1"}


def ask(runtime: Runtime, prompt: str, **extra: object) -> httpx.Response:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": prompt}], **extra}
    return runtime.complete(body)


def scratch_of(fake: FakeAnthropic, index: int) -> str:
    found = re.search(r"Primary working directory: ([^\s\\\"]+)", json.dumps(fake.messages_requests[index].json))
    assert found is not None
    return found.group(1)


def test_a_process_whose_answer_was_cut_is_never_used_again(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    runtime = start(env={**WARM, "CLAUDE_CODE_POOL_SIZE": "1"})
    runtime.wait_for_spares()
    (first,) = claude_processes(runtime.process.pid)
    fake.enqueue(TextReply(["first answer", " STOP here"]), TextReply("second answer"))

    assert ask(runtime, "first question", stop=["STOP"]).status_code == 200
    wait_until(
        lambda: first not in claude_processes(runtime.process.pid),
        timeout=30,
        what="the cut process gone",
        ignore=(Exception,),
        interval=0.05,
    )
    runtime.wait_for_spares()
    assert ask(runtime, "second question").status_code == 200

    assert runtime.metric("claude_code_request_paths_total", path="spare") == 2
    assert runtime.metric("claude_code_request_paths_total", path="reused") == 0
    second = json.dumps(fake.messages_requests[1].chat_messages)
    assert "second question" in second
    assert "first" not in second


def test_history_and_any_system_prompt_are_served_warm_and_a_new_output_limit_cold(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={**WARM, "CLAUDE_CODE_POOL_MAX_REUSABLE": "0"})
    runtime.wait_for_spares()
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]

    assert runtime.complete({"model": "sonnet", "messages": history, "system": "Be terse."}).is_success
    runtime.wait_for_spares()
    assert ask(runtime, "q", system="Something else.").is_success
    # A new output limit is served cold; only when it comes again is it worth a spare of its own.
    assert ask(runtime, "q", max_tokens=100).is_success
    assert ask(runtime, "q", max_tokens=100).is_success
    runtime.wait_for_spares(2)
    assert ask(runtime, "q", max_tokens=100, system="Be brief.").is_success

    assert runtime.metric("claude_code_pool_misses_total", reason="empty") == 2
    assert runtime.metric("claude_code_pool_hits_total") == 3
    assert runtime.metric("claude_code_request_paths_total", path="spare") == 3
    assert runtime.metric("claude_code_request_paths_total", path="cold") == 2
    assert runtime.metric("claude_code_pool_hit_ratio") == 3 / 5


def test_a_crashed_warm_process_is_never_handed_out_and_is_replaced(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    # Nothing kept for reuse: the cold process that serves the request would count as ready too, and
    # "ready" must mean the spare that replaced the victim.
    runtime = start(env={**WARM, "CLAUDE_CODE_POOL_MAX_REUSABLE": "0"})
    runtime.wait_for_spares()
    (victim,) = claude_processes(runtime.process.pid)
    os.kill(victim, signal.SIGKILL)

    response = ask(runtime, "still there?")

    assert response.status_code == 200
    assert json.loads(response.text.splitlines()[-1])["type"] == "finish"
    runtime.wait_for_spares()

    wait_until(
        lambda: victim not in claude_processes(runtime.process.pid),
        timeout=30,
        what="the victim reaped",
        ignore=(Exception,),
        interval=0.05,
    )
    assert runtime.metric("claude_code_request_paths_total", path="cold") == 1


def test_the_pool_keeps_at_most_max_keys_option_sets(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    runtime = start(
        env={"CLAUDE_CODE_POOL_SIZE": "1", "CLAUDE_CODE_POOL_MAX_KEYS": "2", "CLAUDE_CODE_POOL_MAX_REUSABLE": "0"}
    )

    for limit in (100, 200, 300):
        for _ in range(2):  # asked for twice: worth keeping warm
            assert ask(runtime, "q", max_tokens=limit).is_success
            wait_until(
                lambda: not runtime.metric("claude_code_requests_in_flight"),
                timeout=30,
                what="idle",
                ignore=(Exception,),
                interval=0.05,
            )

    runtime.wait_for_spares(2)
    wait_until(
        lambda: len(claude_processes(runtime.process.pid)) == 2,
        timeout=30,
        what="two warm CLIs only",
        ignore=(Exception,),
        interval=0.05,
    )


def test_always_warm_models_stay_warm_whatever_else_is_asked(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={**WARM, "CLAUDE_CODE_POOL_MAX_KEYS": "1", "CLAUDE_CODE_POOL_MAX_REUSABLE": "0"})
    runtime.wait_for_spares()
    for limit in (100, 100, 200, 200):
        assert ask(runtime, "q", max_tokens=limit).is_success

    runtime.wait_for_spares()
    assert ask(runtime, "q").is_success
    assert runtime.metric("claude_code_pool_hits_total") == 1


def test_warm_processes_of_an_unused_key_retire_after_the_idle_time_out(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_SIZE": "1", "CLAUDE_CODE_POOL_IDLE_SECONDS": "3"})
    assert ask(runtime, "q").is_success
    runtime.wait_for_spares()

    wait_until(
        lambda: not claude_processes(runtime.process.pid),
        timeout=30,
        what="idle CLIs retired",
        ignore=(Exception,),
        interval=0.05,
    )
    assert runtime.metric("claude_code_pool_ready_processes") == 0
    assert runtime.metric("claude_code_cli_processes") == 0


def test_processes_over_the_memory_cap_are_retired_and_requests_still_served(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={**WARM, "CLAUDE_CODE_POOL_MAX_RSS_MB": "1"})
    wait_until(
        lambda: "over its memory cap" in runtime.process.output(),
        timeout=60,
        what="a warm process over the cap",
        ignore=(Exception,),
        interval=0.05,
    )

    assert ask(runtime, "q").is_success
    assert runtime.metric("claude_code_pool_hits_total") == 0


def test_admission_queues_up_to_the_limit_and_turns_the_rest_away(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_RUNTIME_MAX_IN_FLIGHT": "1", "CLAUDE_RUNTIME_MAX_QUEUED": "1"})
    fake.enqueue(TextReply(["slow"] * 4, delay_s=0.5), TextReply("queued"))
    gate = threading.Barrier(2)

    def first() -> httpx.Response:
        gate.wait(5)
        return ask(runtime, "one")

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(first)
        gate.wait(5)
        fake.wait_for_requests(1, timeout=30)
        queued = pool.submit(ask, runtime, "two")
        wait_until(
            lambda: runtime.metric("claude_code_requests_queued") == 1,
            timeout=10,
            what="one queued",
            ignore=(Exception,),
            interval=0.05,
        )
        refused = ask(runtime, "three")
        assert running.result(60).status_code == 200
        assert queued.result(60).status_code == 200

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert runtime.metric("claude_code_requests_total", outcome="ok") == 2
    assert runtime.metric("claude_code_requests_total", outcome="busy") == 1


def test_metrics_describe_requests_latency_and_processes(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    runtime = start(env=WARM)
    runtime.wait_for_spares()
    fake.enqueue(TextReply(["a", "b"]))
    assert ask(runtime, "q").is_success

    text = runtime.get("/metrics").text
    for name in (
        "claude_code_requests_total",
        "claude_code_request_duration_seconds_bucket",
        "claude_code_time_to_first_token_seconds_bucket",
        "claude_code_pool_ready_processes",
        "claude_code_pool_hits_total",
        "claude_code_cli_processes",
        "claude_code_upstream_errors_total",
    ):
        assert name in text
    assert runtime.metric("claude_code_request_duration_seconds_count", path="warm") == 1
    assert runtime.metric("claude_code_time_to_first_token_seconds_count", path="warm") == 1


def test_sigterm_stops_the_runtime_and_its_warm_processes(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    runtime = start(env=WARM)
    runtime.wait_for_spares()
    warm = claude_processes(runtime.process.pid)

    os.kill(runtime.process.pid, signal.SIGTERM)

    assert runtime.process.popen.wait(30) == 0
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in warm),
        timeout=10,
        what="warm CLIs gone",
        ignore=(Exception,),
        interval=0.05,
    )
    assert "Runtime stopped" in runtime.process.output()
