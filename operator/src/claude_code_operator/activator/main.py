"""`claude-code-operator activator`: the activator process (KUBECONFIG or in-cluster config) until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import httpx2
from lightkube import AsyncClient, KubeConfig

from ..kube.activator import ActivatorKube
from .server import Activator
from .settings import ActivatorSettings

log = logging.getLogger("claude_code_operator.activator")
FIELD_MANAGER = "claude-code-activator"


async def serve(settings: ActivatorSettings) -> None:
    kube_config = await asyncio.to_thread(KubeConfig.from_env)
    kube = ActivatorKube(
        AsyncClient(config=kube_config, field_manager=FIELD_MANAGER, timeout=httpx2.Timeout(10.0)),
        settings.namespace,
    )
    activator = Activator(settings, kube)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await activator.start()
    watching = asyncio.create_task(kube.watch_routes(activator.routes_seen))
    listening = asyncio.create_task(activator.run_listeners())
    stopping = asyncio.create_task(stop.wait())
    try:
        # Both loops run until cancelled: one that ends raised, and stops the process with its error.
        await asyncio.wait([watching, listening, stopping], return_when=asyncio.FIRST_COMPLETED)
        for loop_task in (watching, listening):
            if loop_task.done():
                loop_task.result()
    finally:
        for task in (watching, listening, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await activator.close()
        await kube.close()
        log.info("Activator stopped")
