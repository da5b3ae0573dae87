"""`make bench`: latency and throughput of the whole chain, in one run, against a fake upstream on 127.0.0.1.

openai client -> LiteLLM proxy -> claude-code provider -> runtime -> Claude Code CLI -> fake Anthropic API.
The upstream answers at once, so every figure is the chain's own cost. Prints a Markdown report.
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

import httpx
import openai

import tests.conftest  # noqa: F401  (network isolation for everything this process starts)
from tests.fakes.anthropic_api import FakeAnthropic, TextReply, Usage
from tests.stack import Proxy, Runtime, start_proxy, start_runtime, write_proxy_config
from tests.support import claude_processes, wait_until

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


def through(client: openai.OpenAI, model: str) -> Sample:
    started = time.perf_counter()
    first = 0.0
    text = ""
    for chunk in client.chat.completions.create(model=model, messages=MESSAGES, stream=True):  # type: ignore[arg-type]
        for choice in chunk.choices:
            if choice.delta.content:
                first = first or time.perf_counter() - started
                text += choice.delta.content
    assert text == "Hello, world.", text
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


def throughput(client: openai.OpenAI, model: str, concurrency: int, count: int) -> tuple[float, int, int]:
    """Requests per second, failures, deliberate 429s."""
    failures = refused = 0

    def one() -> None:
        nonlocal failures, refused
        try:
            through(client, model)
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
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=40, help="samples per latency series")
    parser.add_argument("--soak", action="store_true", help="also 1,000 sequential and 200 concurrent requests")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="claude-code-bench-", ignore_cleanup_errors=True) as tmp,
        FakeAnthropic(default_reply=REPLY) as fake,
    ):
        root = Path(tmp)
        cold = start_runtime(fake, root / "cold", env={"CLAUDE_CODE_POOL_SIZE": "0"})
        warm = start_runtime(
            fake,
            root / "warm",
            env={
                "CLAUDE_CODE_POOL_SIZE": "4",
                "CLAUDE_CODE_POOL_WARM_MODELS": "sonnet",
                "CLAUDE_RUNTIME_MAX_IN_FLIGHT": "4",
                "CLAUDE_RUNTIME_MAX_QUEUED": "64",
                "CLAUDE_RUNTIME_QUEUE_TIMEOUT": "120",
            },
        )
        models = [
            {"model_name": f"{name}/*", "litellm_params": {"model": "claude-code/*", "api_base": runtime.api_url}}
            for name, runtime in (("cold", cold), ("warm", warm))
        ]
        proxy: Proxy | None = None
        try:
            proxy = start_proxy(fake, root / "proxy", write_proxy_config(root / "litellm.yaml", models))
            client = proxy.client()
            report(args, fake, client, cold, warm)
        finally:
            for process in (proxy.process if proxy else None, cold.process, warm.process):
                if process is not None:
                    process.stop()
        left = claude_processes(os.getpid())
        print(f"\nClaude Code processes left after shutdown: {len(left)}")


def report(args: argparse.Namespace, fake: FakeAnthropic, client: openai.OpenAI, cold: Runtime, warm: Runtime) -> None:
    n = args.requests
    through(client, "cold/sonnet")  # load the proxy's code paths once
    settle(warm, 4)
    through(client, "warm/sonnet")
    rows = [
        row("direct upstream", measure(lambda: direct(fake), n)),
        row("cold chain", measure(lambda: through(client, "cold/sonnet"), n)),
        row("warm chain", measure(lambda: through(client, "warm/sonnet"), n, before=lambda: settle(warm, 4))),
    ]
    settle(warm, 4)
    warm_rss = [rss_mb(pid) for pid in claude_processes(warm.process.pid)]

    print(f"## Chain benchmark, {time.strftime('%Y-%m-%d')}\n")
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}")
    print(f"Python {platform.python_version()}")
    print(f"Samples per series: {n}; upstream: fake Messages API on 127.0.0.1 answering at once (3 deltas).\n")
    print("| series | p50 total (ms) | p95 total (ms) | p50 first token (ms) | p95 first token (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, p50, p95, f50, f95 in rows:
        print(f"| {name} | {p50 * 1000:.0f} | {p95 * 1000:.0f} | {f50 * 1000:.0f} | {f95 * 1000:.0f} |")
    (_, d50, d95, df50, _), (_, c50, c95, _, _), (_, w50, w95, wf50, _) = rows
    print()
    print(
        f"- warm chain added latency over direct: p50 {(w50 - d50) * 1000:.0f} ms (target <= 150), "
        f"p95 {(w95 - d95) * 1000:.0f} ms (target <= 300)"
    )
    print(f"- cold/warm ratio: p50 {c50 / w50:.1f}x, p95 {c95 / w95:.1f}x (target >= 3)")
    print(f"- warm first token after the upstream's first delta: p50 {(wf50 - df50) * 1000:.0f} ms (target <= 150)")
    print(f"- RSS per warm Claude Code process: {statistics.mean(warm_rss):.0f} MiB (n={len(warm_rss)})")

    print("\n| concurrency | requests | req/s | failures | 429s | warm hit ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for concurrency in (1, 4, 16):
        settle(warm, 4)
        hits, misses = warm.metric("claude_code_pool_hits_total"), _misses(warm)
        count = max(20, 2 * n)
        rate, failures, refused = throughput(client, "warm/sonnet", concurrency, count)
        ratio = (warm.metric("claude_code_pool_hits_total") - hits) / max(
            1, (_misses(warm) - misses) + warm.metric("claude_code_pool_hits_total") - hits
        )
        print(f"| {concurrency} | {count} | {rate:.1f} | {failures} | {refused} | {ratio:.2f} |")

    if args.soak:
        settle(warm, 4)
        started = time.perf_counter()
        sequential = throughput(client, "warm/sonnet", 1, 1000)
        print(
            f"\nSoak: 1,000 sequential: {sequential[1]} failures, {sequential[2]} 429s, "
            f"{time.perf_counter() - started:.0f} s"
        )
        settle(warm, 4)
        concurrent = throughput(client, "warm/sonnet", 200, 200)
        print(f"Soak: 200 concurrent: {concurrent[1]} failures, {concurrent[2]} deliberate 429s")
    settle(warm, 4)
    serving = len(claude_processes(warm.process.pid)) - int(warm.metric("claude_code_pool_ready_processes"))
    print(f"\nClaude Code processes serving nothing but not in the pool, after the runs: {serving}")
    print(f"Upstream requests received: {len(fake.messages_requests)}")


def _misses(runtime: Runtime) -> float:
    return sum(runtime.metric("claude_code_pool_misses_total", reason=r) for r in ("empty", "history"))


if __name__ == "__main__":
    main()
