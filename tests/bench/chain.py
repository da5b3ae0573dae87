"""`make bench`: latency, CPU and throughput of the whole chain, in one run, against a fake upstream on 127.0.0.1.

openai client -> LiteLLM proxy -> claude-code provider [-> runtime] -> Claude Code CLI -> fake Anthropic API,
with the provider's engine in the proxy ("in-process") or in the runtime. The upstream answers at once, so
every figure is the chain's own cost. Patterns: spaced (1.5 s apart), back-to-back, back-to-back
conversations with history (system prompt + three earlier turns), and an agent loop (the same two tools,
back-to-back rounds, each answered with a tool call whose result the next round brings, the tenth round of
a conversation with text). Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil

import tests.conftest  # noqa: F401  (network isolation for everything this process starts)
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, RecordedRequest, TextReply, ToolReply, ToolUse, Usage
from claude_code_devkit.processes import claude_processes
from claude_code_devkit.stack import Proxy, Runtime, start_proxy, start_runtime, write_proxy_config
from claude_code_devkit.waiting import wait_until

MESSAGES = [{"role": "user", "content": "Say hello."}]
REPLY = TextReply(["Hello", ", world", "."], usage=Usage(input_tokens=12, output_tokens=4))


@dataclass
class Sample:
    total: float
    first_token: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def direct(fake: FakeAnthropic) -> Sample:
    started = time.perf_counter()
    first = 0.0
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True, "messages": MESSAGES}
    with httpx.stream(
        "POST", fake.base_url + "/v1/messages", json=body, headers={"authorization": "Bearer x"}, trust_env=False
    ) as response:
        for line in response.iter_lines():
            if not first and "content_block_delta" in line:
                first = time.perf_counter() - started
    return Sample(time.perf_counter() - started, first)


def through(client: openai.OpenAI, model: str, messages: list[dict[str, str]] = MESSAGES, **extra: object) -> Sample:
    started = time.perf_counter()
    first = 0.0
    text = ""
    chunks = client.chat.completions.create(model=model, messages=messages, stream=True, **extra)  # type: ignore[call-overload]
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.delta.content:
                first = first or time.perf_counter() - started
                text += choice.delta.content
    assert text == "Hello, world.", text
    return Sample(time.perf_counter() - started, first)


def varied(client: openai.OpenAI, prefix: str, index: int, recurring: bool = True) -> Sample:
    """One of two models, one of two output limits and a system prompt: one of two (``recurring``, eight
    option sets in all, as several apps or agents using one login) or a new one every time."""
    model = f"{prefix}/{('sonnet', 'haiku')[index % 2]}"
    limit = {"max_tokens": 256} if index % 4 >= 2 else {}
    number = index // 4 % 2 if recurring else index
    system = [{"role": "system", "content": f"You are assistant number {number}."}]
    return through(client, model, system + MESSAGES, **limit)


BRIEF = [{"role": "system", "content": "Answer briefly."}, *MESSAGES]
# A user turn with a screenshot (a 1x1 GIF) and an effort: a chat client's request, served warm from its second.
GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
WITH_IMAGE = [
    {
        "role": "user",
        "content": [{"type": "text", "text": "Say hello."}, {"type": "image_url", "image_url": {"url": GIF}}],
    }
]


def with_history(client: openai.OpenAI, model: str, index: int) -> Sample:
    """A chat client's later turn: system prompt and three earlier turns, new words every time."""
    messages = [{"role": "system", "content": "Answer briefly."}]
    for turn in range(3):
        messages.append({"role": "user", "content": f"Question {turn} of conversation {index}."})
        messages.append({"role": "assistant", "content": f"Answer {turn}."})
    messages.append({"role": "user", "content": f"Last question of conversation {index}."})
    return through(client, model, messages)


TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} of a place.",
            "parameters": {"type": "object", "properties": {"place": {"type": "string"}}, "required": ["place"]},
        },
    }
    for name in ("weather", "time")
]


LOOP_ROUNDS = 10


def call_a_tool(request: RecordedRequest) -> ToolReply | None:
    """The fake model's answer to a request that offers tools: a call (with a fresh id) of the first one,
    until the conversation has nine results (then the default text answer)."""
    results = sum(
        1
        for m in request.chat_messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    )
    if not request.tools or results >= LOOP_ROUNDS - 1:
        return None
    return ToolReply([ToolUse(request.tool_names[0], {"place": "Oslo"})], usage=Usage(input_tokens=30, output_tokens=9))


class AgentLoop:
    """An agent's conversations: every round sends the history so far with the last call's result; a text
    answer ends the conversation."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def round(self, client: openai.OpenAI, model: str, index: int) -> Sample:
        if not self.messages:
            self.messages = [{"role": "user", "content": f"Plan trip {index}."}]
        started = time.perf_counter()
        first = 0.0
        calls: dict[int, dict[str, str]] = {}
        chunks = client.chat.completions.create(model=model, messages=self.messages, tools=TOOLS, stream=True)
        text = ""
        for chunk in chunks:
            for choice in chunk.choices:
                if choice.delta.content:
                    first = first or time.perf_counter() - started
                    text += choice.delta.content
                for delta in choice.delta.tool_calls or []:
                    first = first or time.perf_counter() - started
                    call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = delta.id or call["id"]
                    if delta.function is not None:
                        call["name"] = delta.function.name or call["name"]
                        call["arguments"] += delta.function.arguments or ""
        if not calls:
            assert text == "Hello, world.", text
            self.messages = []
            return Sample(time.perf_counter() - started, first)
        assert len(calls) == 1, calls
        call = calls[0]
        self.messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                ],
            }
        )
        self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": f"Result {index}."})
        return Sample(time.perf_counter() - started, first)


def measure(run: Callable[[], Sample], count: int, before: Callable[[], None] = lambda: None) -> list[Sample]:
    samples = []
    for _ in range(count):
        before()
        samples.append(run())
    return samples


def row(name: str, samples: list[Sample]) -> tuple[str, float, float, float, float]:
    totals = [s.total for s in samples]
    firsts = [s.first_token for s in samples]
    return (name, percentile(totals, 0.5), percentile(totals, 0.95), percentile(firsts, 0.5), percentile(firsts, 0.95))


def throughput(
    client: openai.OpenAI, model: str, concurrency: int, count: int, vary: bool | None = None
) -> tuple[float, int, int]:
    """Requests per second, failures, deliberate 429s; ``vary`` (not None): options as ``varied`` takes
    them, recurring or not."""
    failures = refused = 0
    counter = iter(range(count))

    def one() -> None:
        nonlocal failures, refused
        index = next(counter)
        try:
            varied(client, model, index, vary) if vary is not None else through(client, model)
        except openai.RateLimitError:
            refused += 1
        except Exception:
            failures += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(one) for _ in range(count)]:
            future.result()
    return count / (time.perf_counter() - started), failures, refused


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settle(runtime: Runtime, ready: int) -> None:
    wait_until(
        lambda: (
            runtime.metric("claude_code_requests_in_flight") == 0
            and runtime.metric("claude_code_pool_ready_processes") >= ready
        ),
        timeout=120,
        what="runtime idle with a full pool",
        ignore=(Exception,),
        interval=0.05,
    )


def chain_cpu(roots: list[psutil.Process]) -> float:
    """CPU seconds of the chain so far: the given processes, their reaped children and every live descendant."""
    total = 0.0
    seen: set[int] = set()
    for root in roots:
        for process in [root, *root.children(recursive=True)]:
            if process.pid in seen:
                continue
            seen.add(process.pid)
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system + times.children_user + times.children_system
    return total


def started_up(roots: list[psutil.Process]) -> bool:
    """Whether every CLI of the chain is past its start-up (about 3 s of CPU work after it is spawned)."""
    children = [child for root in roots for child in root.children(recursive=True)]
    try:
        return all(time.time() - child.create_time() > 3 for child in children)
    except psutil.Error:
        return False


@dataclass
class Series:
    mode: str
    pattern: str
    samples: list[Sample]
    direct: list[Sample]  # direct calls to the upstream right before and after the series
    cpu: float  # CPU seconds per request, whole chain
    load: float  # 1-minute load average at the end (the machine is shared)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30, help="samples per latency series")
    parser.add_argument("--soak", action="store_true", help="also 1,000 sequential and 200 concurrent requests")
    args = parser.parse_args()

    pool = {
        "CLAUDE_CODE_POOL_SIZE": "1",
        "CLAUDE_CODE_POOL_MAX_REUSABLE": "8",
        "CLAUDE_CODE_POOL_WARM_MODELS": "sonnet",
        "CLAUDE_RUNTIME_MAX_IN_FLIGHT": "4",
        "CLAUDE_RUNTIME_MAX_QUEUED": "64",
        "CLAUDE_RUNTIME_QUEUE_TIMEOUT": "120",
    }
    with (
        tempfile.TemporaryDirectory(prefix="claude-code-bench-", ignore_cleanup_errors=True) as tmp,
        FakeAnthropic(default_reply=REPLY, responder=call_a_tool) as fake,
    ):
        root = Path(tmp)
        cold = start_runtime(fake, root / "cold", env={"CLAUDE_CODE_POOL_SIZE": "0"})
        warm = start_runtime(fake, root / "warm", env=pool)
        models = [
            {"model_name": f"{name}/*", "litellm_params": {"model": "claude-code/*", "api_base": runtime.api_url}}
            for name, runtime in (("cold", cold), ("warm", warm))
        ]
        models.append({"model_name": "local/*", "litellm_params": {"model": "claude-code/*"}})
        proxy: Proxy | None = None
        try:
            proxy = start_proxy(fake, root / "proxy", write_proxy_config(root / "litellm.yaml", models), env=pool)
            report(args, fake, proxy, cold, warm)
        finally:
            for process in (proxy.process if proxy else None, cold.process, warm.process):
                if process is not None:
                    process.stop()
        left = claude_processes(os.getpid())
        print(f"\nClaude Code processes left after shutdown: {len(left)}")


def report(args: argparse.Namespace, fake: FakeAnthropic, proxy: Proxy, cold: Runtime, warm: Runtime) -> None:
    n = args.requests
    client = proxy.client()
    # The in-process CLIs are the proxy's children.
    roots = [psutil.Process(p.pid) for p in (proxy.process, warm.process, cold.process)]
    through(client, "cold/sonnet")  # load the proxy's code paths once
    settle(warm, 1)
    through(client, "warm/sonnet")
    through(client, "local/sonnet")
    load_before = os.getloadavg()

    def series(
        mode: str, pattern: str, run: Callable[[int], Sample], count: int, pause: float = 0.0, prime: int = 0
    ) -> Series:
        """``prime`` requests first (not measured) to reach the steady state of a recurring pattern."""
        for index in range(prime):
            run(index)
        settle(warm, 1)
        wait_until(
            lambda: started_up(roots),
            timeout=60,
            what="every spare through its start-up",
            ignore=(Exception,),
            interval=0.05,
        )
        before = measure(lambda: direct(fake), max(5, count // 2))
        cpu = chain_cpu(roots)
        samples = []
        for index in range(prime, prime + count):
            if pause:
                time.sleep(pause)
            samples.append(run(index))
        spent = chain_cpu(roots) - cpu
        after = measure(lambda: direct(fake), max(5, count // 2))
        return Series(mode, pattern, samples, before + after, spent / count, os.getloadavg()[0])

    loop_hit_ratio = 0.0
    all_series = [series("runtime", "cold (no pool)", lambda i: through(client, "cold/sonnet"), max(10, n // 3))]
    for mode, prefix in (("runtime", "warm"), ("in-process", "local")):
        all_series += [
            series(mode, "spaced 1.5 s", lambda i, p=prefix: through(client, f"{p}/sonnet", BRIEF), n, 1.5),
            series(mode, "back-to-back", lambda i, p=prefix: through(client, f"{p}/sonnet", BRIEF), n),
            series(mode, "history back-to-back", lambda i, p=prefix: with_history(client, f"{p}/sonnet", i), n),
            series(
                mode,
                "image + reasoning_effort back-to-back",
                lambda i, p=prefix: through(client, f"{p}/sonnet", WITH_IMAGE, reasoning_effort="low"),  # type: ignore[arg-type]
                n,
                prime=1,
            ),
            series(mode, "8 recurring option sets back-to-back", lambda i, p=prefix: varied(client, p, i), n, prime=16),
            series(mode, "new system prompt each, back-to-back", lambda i, p=prefix: varied(client, p, i, False), n),
        ]
        hits, misses = warm.metric("claude_code_pool_hits_total"), _misses(warm)
        loop = AgentLoop()
        all_series.append(
            series(
                mode,
                "agent loop, 2 tools, back-to-back",
                lambda i, p=prefix, agent=loop: agent.round(client, f"{p}/sonnet", i),
                n,
                prime=10,
            )
        )
        if mode == "runtime":
            took = warm.metric("claude_code_pool_hits_total") - hits
            loop_hit_ratio = took / max(1, (_misses(warm) - misses) + took)
    load_after = os.getloadavg()
    settle(warm, 1)
    warm_rss = [rss_mb(pid) for pid in claude_processes(warm.process.pid)]

    print(f"## Chain benchmark, {time.strftime('%Y-%m-%d')}\n")
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}")
    print(f"Python {platform.python_version()}")
    print(f"Load average (1 min) before/after the latency series: {load_before[0]:.1f} / {load_after[0]:.1f}")
    print(f"Samples per series: {n}; upstream: fake Messages API on 127.0.0.1 answering at once (3 deltas).\n")
    print("Added: the p50/p95 of a series minus those of direct calls to the fake right before and after it.\n")
    print(
        "| mode | pattern | direct p50 (ms) | added p50 (ms) | added p95 (ms) | first token p50 (ms) "
        "| CPU per request (ms) | load |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for item in all_series:
        totals = [s.total for s in item.samples]
        firsts = [s.first_token for s in item.samples]
        d50, d95 = (percentile([s.total for s in item.direct], q) for q in (0.5, 0.95))
        print(
            f"| {item.mode} | {item.pattern} | {d50 * 1000:.0f} | {(percentile(totals, 0.5) - d50) * 1000:.0f} | "
            f"{(percentile(totals, 0.95) - d95) * 1000:.0f} | {percentile(firsts, 0.5) * 1000:.0f} | "
            f"{item.cpu * 1000:.0f} | {item.load:.1f} |"
        )
    print("\nTargets (issue 12): back-to-back and history added p50 <= 100 ms, p95 <= 200 ms; CPU <= 60 ms.")
    print(f"\n- RSS per warm Claude Code process: {statistics.mean(warm_rss):.0f} MiB (n={len(warm_rss)})")
    print(
        f"- Warm hit ratio of the runtime's agent loop (a recurring tool set; priming included): {loop_hit_ratio:.2f}"
    )
    print("  Targets (issue 21): agent loop added p50 <= 100 ms, p95 <= 200 ms; warm hit ratio >= 0.9.")

    print(
        "\n| runtime, varied system prompt/model/max_tokens | requests | req/s | failures | 429s | warm hit ratio "
        "| load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for recurring in (True, False):
        for concurrency in (1, 4):
            settle(warm, 1)
            throughput(client, "warm", concurrency, 16, vary=recurring)  # steady state: each set seen before
            settle(warm, 1)
            hits, misses = warm.metric("claude_code_pool_hits_total"), _misses(warm)
            count = max(24, n)
            rate, failures, refused = throughput(client, "warm", concurrency, count, vary=recurring)
            took = warm.metric("claude_code_pool_hits_total") - hits
            ratio = took / max(1, (_misses(warm) - misses) + took)
            kind = "8 recurring option sets" if recurring else "new system prompt each"
            print(
                f"| {kind}, concurrency {concurrency} | {count} | {rate:.1f} | {failures} | {refused} | {ratio:.2f} "
                f"| {os.getloadavg()[0]:.1f} |"
            )
    print("\n| throughput at concurrency 4, same options | requests | req/s | failures | 429s | load |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, model in (("runtime", "warm/sonnet"), ("in-process", "local/sonnet")):
        settle(warm, 1)
        throughput(client, model, 4, 16)  # steady state: four processes kept for these options
        rate, failures, refused = throughput(client, model, 4, max(40, n))
        print(f"| {mode} | {max(40, n)} | {rate:.1f} | {failures} | {refused} | {os.getloadavg()[0]:.1f} |")
    print("\nTargets: warm hit ratio >= 0.9; throughput at concurrency 4 >= 10 requests/s.")
    names = ("reused", "spare", "continued", "cold", "resume", "fed")
    paths = {p: warm.metric("claude_code_request_paths_total", path=p) for p in names}
    print(f"\nRuntime requests by path: {paths}")

    if args.soak:
        settle(warm, 1)
        started = time.perf_counter()
        sequential = throughput(client, "warm/sonnet", 1, 1000)
        print(
            f"\nSoak: 1,000 sequential: {sequential[1]} failures, {sequential[2]} 429s, "
            f"{time.perf_counter() - started:.0f} s"
        )
        settle(warm, 1)
        concurrent = throughput(client, "warm/sonnet", 200, 200)
        print(f"Soak: 200 concurrent: {concurrent[1]} failures, {concurrent[2]} deliberate 429s")
    settle(warm, 1)
    serving = len(claude_processes(warm.process.pid)) - int(warm.metric("claude_code_pool_ready_processes"))
    print(f"\nClaude Code processes serving nothing but not in the pool, after the runs: {serving}")
    print(f"Upstream requests received: {len(fake.messages_requests)}")


def _misses(runtime: Runtime) -> float:
    return sum(runtime.metric("claude_code_pool_misses_total", reason=r) for r in ("empty", "history"))


if __name__ == "__main__":
    main()
