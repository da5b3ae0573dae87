"""``claude-code-runtime``: install the login, then serve the two listeners until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from .. import logs
from ..auth.probe import fetch_cli_version, find_cli
from ..engine.admission import Admission, AdmissionSettings
from ..engine.engine import Engine
from ..engine.pool import PoolSettings
from ..engine.settings import EngineSettings
from ..errors import derive_pod_login_hint
from ..runtime_token import RuntimeTokenError, apply_runtime_token
from .activity import RequestCounter
from .app import build_api_app, build_health_app
from .monitor import LoginMonitor
from .settings import RuntimeSettings
from .usage import UsageCollector, UsageTracker
from .writeback import LoginWriter, WriteBackSettings

log = logging.getLogger("claude_code_provider.runtime")
FINAL_WRITE_BACK_SECONDS = 10.0


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to ``serve``: one SIGTERM must stop both listeners and then
    the warm CLI processes, which uvicorn's own handling (stop one server, re-raise) would orphan."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: RuntimeSettings, engine_settings: EngineSettings, pool_settings: PoolSettings, *, api_token: str
) -> None:
    config_dir = engine_settings.config_dir or Path.home() / ".claude"
    cli = find_cli(engine_settings.cli_path)
    monitor = LoginMonitor(
        cli=cli, login_dir=settings.login_dir, config_dir=config_dir, refresh_seconds=settings.auth_refresh_seconds
    )
    monitor.install()
    monitor.cli_version = await fetch_cli_version(cli, monitor.cli_env) if cli else None
    engine_settings = engine_settings.model_copy(
        update={"config_dir": config_dir, "login_hint": derive_pod_login_hint(settings.pod_name, settings.namespace)}
    )
    usage = UsageTracker()
    monitor.usage = usage.windows
    engine = Engine(engine_settings, on_outcome=monitor.record, pool=pool_settings, on_rate_limit=usage.observe)
    engine.metrics.registry.register(UsageCollector(usage))
    engine.use_login(monitor.login)
    monitor.subscribe(engine.use_login)
    await engine.start()
    write_back = WriteBackSettings.from_env()
    writer = LoginWriter(write_back, config_dir, engine.metrics) if write_back is not None else None
    if writer is not None:
        monitor.write_back = writer.status
    requests = RequestCounter()
    monitor.requests = requests.snapshot
    servers = [
        _Server(
            uvicorn.Config(
                build_api_app(
                    engine,
                    Admission(AdmissionSettings.from_env(), engine.metrics),
                    token=api_token,
                    login_problem=lambda: monitor.problem,
                    counter=requests,
                ),
                host=settings.api_host,
                port=settings.api_port,
                log_config=None,
                access_log=False,
            )
        ),
        _Server(
            uvicorn.Config(
                build_health_app(monitor, engine.metrics),
                host=settings.listen_host,
                port=settings.port,
                log_config=None,
                access_log=False,
            )
        ),
    ]
    log.info(
        "Runtime serving",
        extra={
            "api": f"{settings.api_host}:{settings.api_port}",
            "health": f"{settings.listen_host}:{settings.port}",
            "cli_version": monitor.cli_version,
            "warm_pool_size": pool_settings.size,
            "pid": os.getpid(),
        },
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop, servers)
    writing = asyncio.create_task(writer.run()) if writer is not None else None
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
        await engine.close()
        if writer is not None:
            # A refresh the CLIs made just before they stopped is saved now, or the next pod would start
            # from a spent refresh token (bounded: the kubelet's grace period is 30 s).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.write_back(), FINAL_WRITE_BACK_SECONDS)
        log.info("Runtime stopped")


def _stop(servers: list[_Server]) -> None:
    for server in servers:
        server.should_exit = True


def main() -> None:
    logs.configure(os.environ.get("CLAUDE_RUNTIME_LOG_LEVEL", "INFO"))
    try:
        api_token = apply_runtime_token(os.environ)
    except RuntimeTokenError as error:
        log.error("Runtime not started", extra={"reason": str(error)})
        raise SystemExit(2) from None
    asyncio.run(
        serve(RuntimeSettings.from_env(), EngineSettings.from_env(), PoolSettings.from_env(), api_token=api_token)
    )


if __name__ == "__main__":
    main()
