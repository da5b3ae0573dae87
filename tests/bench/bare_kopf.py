"""The baseline of `make bench-operator`: a bare kopf operator on ClaudeCodeProviders.

One create handler (it writes `status.phase`, so "status present" is measured as for the real
operator) and one no-op timer per resource; kopf's defaults otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

RESOURCE = ("claudecode.dev", "v1alpha1", "claudecodeproviders")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = logging.WARNING


@kopf.on.create(*RESOURCE)
def created(patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "Pending"


@kopf.timer(*RESOURCE, interval=30)
def tick(**_: Any) -> None:
    """Does nothing: the cost of one timer task per resource."""


def main(argv: list[str]) -> None:
    """Takes the operator's command line (claude_code_devkit.operator_process) and ignores what it has no use for."""
    parser = argparse.ArgumentParser(prog="bare-kopf")
    parser.add_argument("--namespace", "-n", required=True)
    parser.add_argument("--liveness", required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--metrics-host", default="127.0.0.1")
    args, _ = parser.parse_known_args(argv)
    kopf.configure(log_format=kopf.LogFormat.JSON)
    start_http_server(args.metrics_port, addr=args.metrics_host)
    asyncio.run(kopf.operator(namespaces=[args.namespace], standalone=True, liveness_endpoint=args.liveness))
