"""Runs an operator with its Kubernetes API requests counted: `python -m tests.bench.counted operator|bare ARGS`.

kopf talks to the API server through aiohttp, the operator's own reads and writes go through
lightkube's client; both are wrapped before the operator starts, and the count is served with the
operator's Prometheus metrics as `bench_api_requests_total{client,method}`. The operator's probes of
pod IPs use another client and are not counted; a watch counts as one request.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
from lightkube.core.generic_client import GenericAsyncClient
from prometheus_client import Counter

API_REQUESTS = Counter("bench_api_requests", "Requests to the Kubernetes API server", ["client", "method"])


def install_request_counter() -> None:
    aiohttp_request = aiohttp.ClientSession._request
    lightkube_send = GenericAsyncClient.send

    async def counted_aiohttp(self: aiohttp.ClientSession, method: str, *args: Any, **kwargs: Any) -> Any:
        API_REQUESTS.labels("kopf", method.upper()).inc()
        return await aiohttp_request(self, method, *args, **kwargs)

    async def counted_lightkube(self: GenericAsyncClient, request: Any, *args: Any, **kwargs: Any) -> Any:
        API_REQUESTS.labels("lightkube", request.method).inc()
        return await lightkube_send(self, request, *args, **kwargs)

    aiohttp.ClientSession._request = counted_aiohttp  # type: ignore[method-assign]
    GenericAsyncClient.send = counted_lightkube  # type: ignore[method-assign]


def main() -> None:
    which, argv = sys.argv[1], sys.argv[2:]
    install_request_counter()
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
