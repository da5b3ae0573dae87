"""`make bench-idle`: what an idle provider pod holds, before and after the pool's idle release, and what
the first request after it costs (issue 23, item 1). Prints a Markdown report.

The pod's two containers as local processes (`claude_code_devkit.stack`): the runtime with the pool's
defaults but `CLAUDE_CODE_POOL_IDLE_SECONDS` short (`--idle-seconds`), and a LiteLLM proxy in front of
it as the pod's sidecar, against a fake Anthropic API on 127.0.0.1 that answers at once. Memory is the
sum over every process of both (the runtime, its CLIs, LiteLLM): RSS, which counts the pages the CLIs
share once per process, and PSS, which splits them. Phases: started (no request yet); busy (eight
requests with two option sets, as two apps of one person, then settled with the pool refilled); released
(every CLI retired after the idle time); then a request after the release (the CLI starts for it) against
requests with the CLI warm, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

import tests.conftest  # noqa: F401  (network isolation for everything this process starts)
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic
from claude_code_devkit.processes import claude_processes
from claude_code_devkit.stack import Proxy, Runtime, start_proxy, start_runtime, write_proxy_config
from claude_code_devkit.waiting import wait_until
from tests.bench.chain import BRIEF, MESSAGES, REPLY, Sample, through

#: Two option sets (model and system prompt), as two apps of one person share a login.
OPTION_SETS = (("sonnet", MESSAGES), ("haiku", BRIEF))


@dataclass(frozen=True)
class Memory:
    processes: int
    clis: int
    rss_mib: float
    pss_mib: float


def tree(roots: list[psutil.Process]) -> Iterator[psutil.Process]:
    for root in roots:
        yield root
        yield from root.children(recursive=True)


def measure_memory(runtime: Runtime, proxy: Proxy) -> Memory:
    roots = [psutil.Process(runtime.process.pid), psutil.Process(proxy.process.pid)]
    count = rss = pss = 0
    for process in tree(roots):
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        count += 1
        rss += info.rss
        pss += info.pss
    clis = len(claude_processes(runtime.process.pid)) + len(claude_processes(proxy.process.pid))
    return Memory(count, clis, rss / 2**20, pss / 2**20)


def settled(runtime: Runtime, spares: int) -> bool:
    return (
        runtime.metric("claude_code_requests_in_flight") == 0
        and runtime.metric("claude_code_pool_ready_processes") >= spares
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="the pool's idle time in this run")
    parser.add_argument("--rounds", type=int, default=5, help="requests after a release (each after its own)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="claude-code-bench-idle-", ignore_cleanup_errors=True) as tmp,
        FakeAnthropic(default_reply=REPLY) as fake,
    ):
        root = Path(tmp)
        runtime = start_runtime(fake, root / "runtime", env={"CLAUDE_CODE_POOL_IDLE_SECONDS": str(args.idle_seconds)})
        proxy: Proxy | None = None
        try:
            models = [{"model_name": "*", "litellm_params": {"model": "claude-code/*", "api_base": runtime.api_url}}]
            proxy = start_proxy(fake, root / "proxy", write_proxy_config(root / "litellm.yaml", models))
            report(args, runtime, proxy)
        finally:
            for process in (proxy.process if proxy else None, runtime.process):
                if process is not None:
                    process.stop()
        print(f"\nClaude Code processes left after shutdown: {len(claude_processes(os.getpid()))}")


def release(runtime: Runtime, proxy: Proxy, idle_seconds: float) -> float:
    """Seconds from the last request until no CLI is left."""
    started = time.monotonic()
    wait_until(
        lambda: not claude_processes(runtime.process.pid),
        timeout=idle_seconds * 3 + 30,
        interval=0.5,
        what="the pool's idle release",
    )
    return time.monotonic() - started


def report(args: argparse.Namespace, runtime: Runtime, proxy: Proxy) -> None:
    client = proxy.client()
    time.sleep(2)  # LiteLLM's start-up work settles
    phases = [("started, no request yet", measure_memory(runtime, proxy))]

    for index in range(8):
        model, messages = OPTION_SETS[index % 2]
        through(client, model, messages)
    wait_until(lambda: settled(runtime, 2), timeout=120, interval=0.2, what="the pool refilled", ignore=(Exception,))
    phases.append(("busy: 8 requests, 2 option sets, settled", measure_memory(runtime, proxy)))

    warm: list[Sample] = []
    for _ in range(args.rounds):
        wait_until(lambda: settled(runtime, 2), timeout=120, interval=0.2, what="a warm spare", ignore=(Exception,))
        warm.append(through(client, *OPTION_SETS[0]))
    released_after = release(runtime, proxy, args.idle_seconds)
    phases.append((f"released ({released_after:.0f} s after the last request)", measure_memory(runtime, proxy)))

    cold: list[Sample] = []
    for round_ in range(args.rounds):
        if round_:
            release(runtime, proxy, args.idle_seconds)
        cold.append(through(client, *OPTION_SETS[0]))

    print(f"# Idle release (pool idle time {args.idle_seconds:.0f} s in this run; default 600 s)\n")
    print(f"{platform.node()}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end\n")
    print("| phase | processes | CLIs | RSS (MiB) | PSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for name, memory in phases:
        print(f"| {name} | {memory.processes} | {memory.clis} | {memory.rss_mib:.0f} | {memory.pss_mib:.0f} |")
    busy, released = phases[1][1], phases[2][1]
    print(f"\nReleased / busy: RSS {released.rss_mib / busy.rss_mib:.2f}, PSS {released.pss_mib / busy.pss_mib:.2f}\n")
    print("| request (streamed, through LiteLLM) | n | first token p50 (ms) | total p50 (ms) | total max (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, samples in (("a warm CLI waiting", warm), ("the first after a release", cold)):
        firsts = [s.first_token * 1000 for s in samples]
        totals = [s.total * 1000 for s in samples]
        print(
            f"| {name} | {len(samples)} | {statistics.median(firsts):.0f} | {statistics.median(totals):.0f} |"
            f" {max(totals):.0f} |"
        )
    added = statistics.median(s.total for s in cold) - statistics.median(s.total for s in warm)
    print(f"\nAdded latency of the first request after a release (p50): {added * 1000:.0f} ms")


if __name__ == "__main__":
    main()
