"""Runs an operator with its Kubernetes API requests counted: `python -m tests.bench.counted operator|bare ARGS`.

kopf talks to the API server through aiohttp, the operator's own reads and writes go through
lightkube's client (over aiohttp too, counted once, as lightkube's); both are wrapped before the
operator starts, and the count is served with the operator's Prometheus metrics as
`bench_api_requests_total{client,method,kind}` (kind: the resource's plural, with a subresource after a
slash, or `?` for paths that name none). The operator's probes of
pod IPs use another client and are not counted; a watch counts as one request.
"""

from __future__ import annotations

import atexit
import cProfile
import importlib.abc
import itertools
import os
import sys
import threading
import time
import tracemalloc
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import aiohttp
from lightkube.core.generic_client import GenericAsyncClient
from prometheus_client import Counter
from yarl import URL

IN_LIGHTKUBE = ContextVar("in_lightkube", default=False)
API_REQUESTS = Counter("bench_api_requests", "Requests to the Kubernetes API server", ["client", "method", "kind"])


def kind_of(path: str) -> str:
    """`/api/v1/namespaces/ns/pods/x/status` -> `pods/status`; `/apis/g/v/plural` -> `plural`."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else []
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return "?"
    return rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")


def install_request_counter() -> None:
    aiohttp_request = aiohttp.ClientSession._request
    lightkube_send = GenericAsyncClient.send

    async def counted_aiohttp(self: aiohttp.ClientSession, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        path = URL(url).path
        # lightkube's are counted by counted_lightkube; probes of pod IPs are not API requests.
        if not IN_LIGHTKUBE.get() and path.startswith("/api"):
            API_REQUESTS.labels("kopf", method.upper(), kind_of(path)).inc()
        return await aiohttp_request(self, method, url, *args, **kwargs)

    async def counted_lightkube(self: GenericAsyncClient, request: Any, *args: Any, **kwargs: Any) -> Any:
        API_REQUESTS.labels("lightkube", request.method, kind_of(request.url.path)).inc()
        token = IN_LIGHTKUBE.set(True)
        try:
            return await lightkube_send(self, request, *args, **kwargs)
        finally:
            IN_LIGHTKUBE.reset(token)

    aiohttp.ClientSession._request = counted_aiohttp  # type: ignore[method-assign]
    GenericAsyncClient.send = counted_lightkube  # type: ignore[method-assign]


def trace_memory(prefix: str, every: float = 30.0) -> None:
    """BENCH_TRACEMALLOC=PREFIX: where the operator's memory goes, written every `every` seconds to
    PREFIX.N.txt (the largest allocation sites, by line)."""
    tracemalloc.start()

    def dump() -> None:
        for n in itertools.count():
            time.sleep(every)
            stats = tracemalloc.take_snapshot().statistics("lineno")
            total = sum(s.size for s in stats)
            lines = [f"total {total / 2**20:.1f} MiB traced"] + [str(s) for s in stats[:40]]
            Path(f"{prefix}.{n}.txt").write_text("\n".join(lines) + "\n")

    threading.Thread(target=dump, name="tracemalloc", daemon=True).start()


class WithoutKubernetesClient(importlib.abc.MetaPathFinder):
    """The operator's image has no `kubernetes` package (the tests' environment has, for the tests); kopf
    imports it when it is there (about 9 MiB). Both operators are measured as they would run."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".", maxsplit=1)[0] == "kubernetes":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def main() -> None:
    which, argv = sys.argv[1], sys.argv[2:]
    sys.meta_path.insert(0, WithoutKubernetesClient())
    install_request_counter()
    if os.environ.get("BENCH_TRACEMALLOC"):
        trace_memory(os.environ["BENCH_TRACEMALLOC"])
    profile = os.environ.get("BENCH_CPROFILE")  # where CPU time goes: a pstats file, written at exit
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        atexit.register(lambda: profiler.dump_stats(profile))
    if which == "operator":
        from claude_code_operator.cli import main as operator_main

        operator_main(argv)
    elif which == "bare":
        from tests.bench.bare_kopf import main as bare_main

        bare_main(argv)
    else:
        raise SystemExit(f"usage: python -m tests.bench.counted operator|bare ARGS (not {which!r})")


if __name__ == "__main__":
    main()
