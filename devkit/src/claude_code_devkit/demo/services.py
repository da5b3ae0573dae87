"""The demo's long-running helpers, each a process of its own that runs until SIGTERM.

    python -m claude_code_devkit.demo.services pods --namespace NS --kubeconfig PATH --workdir DIR [--env K=V ...]
    python -m claude_code_devkit.demo.services upstream --port-file PATH

`pods`: the pod runner for the demo's namespace (the provider pod's runtime and LiteLLM sidecar as
processes started from the images `make images` built; from .venv/bin with POD_IMAGES=0). `upstream`: the fake
Anthropic API on 127.0.0.1 (offline mode), answering every request with one fixed text.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from kubernetes import config

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.image_runtime import image_mode_refs
from claude_code_devkit.podrunner import PodRunner

#: Loops are bounded: a forgotten demo stops running pods after this long.
MAX_LIFETIME = 12 * 3600.0
OFFLINE_REPLY = "Hello from the offline demo: this text comes from a fake Anthropic API on 127.0.0.1."


def _until_terminated() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait(MAX_LIFETIME)


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def run_pods(namespace: str, kubeconfig: Path, workdir: Path, env: dict[str, str]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    runner = PodRunner(
        api,
        namespace=namespace,
        pod_overrides=lambda _pod: env,
        max_lifetime=MAX_LIFETIME,
        base_dir=workdir,
        images=image_mode_refs(),
    ).start()
    try:
        _until_terminated()
    finally:
        runner.close()
        api.close()


def run_upstream(port_file: Path) -> None:
    with FakeAnthropic(default_reply=TextReply(OFFLINE_REPLY)) as fake:
        port_file.write_text(str(fake.port))
        _until_terminated()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m claude_code_devkit.demo.services")
    commands = parser.add_subparsers(dest="command", required=True)
    pods = commands.add_parser("pods")
    pods.add_argument("--namespace", required=True)
    pods.add_argument("--kubeconfig", type=Path, required=True)
    pods.add_argument("--workdir", type=Path, required=True)
    pods.add_argument("--env", type=_env_pair, action="append", default=[])
    upstream = commands.add_parser("upstream")
    upstream.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "pods":
        run_pods(args.namespace, args.kubeconfig, args.workdir, dict(args.env))
    else:
        run_upstream(args.port_file)


if __name__ == "__main__":
    main()
