"""The activator's only API traffic: the routes ConfigMap, read and watched by name, and the wake-up
annotation patched onto a ClaudeCodeProvider (the chart's RBAC allows exactly these)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from .. import contract
from ..activator.routes import CONFIG_MAP_NAME, ROUTES_KEY
from .api import ClaudeCodeProvider, TransportError

log = logging.getLogger(__name__)
#: The API server ends each watch after this long; the client gives up on one this much later (a
#: connection that silently stopped delivering events must not stall the routes).
WATCH_SECONDS = 240
WATCH_GRACE_SECONDS = 30
#: Between failed attempts to read or watch the routes, doubling up to the last.
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


class ActivatorKube:
    def __init__(self, client: AsyncClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    async def close(self) -> None:
        await self.client.close()

    async def fetch_routes(self) -> tuple[str | None, str | None]:
        """The `routes.json` text (None: no ConfigMap, or no such key) and the ConfigMap's resourceVersion."""
        try:
            found = await self.client.get(ConfigMap, CONFIG_MAP_NAME, namespace=self.namespace)
        except ApiError as error:
            if error.status.code == 404:
                return None, None
            raise
        return (found.data or {}).get(ROUTES_KEY), found.metadata.resourceVersion if found.metadata else None

    async def watch_routes(self, seen: Callable[[str | None], None]) -> None:
        """Call `seen` with every version of the `routes.json` text (None: no routes document), the current
        one first; read again from scratch after each bounded watch or failure. Runs until cancelled."""
        failures = 0
        while True:
            try:
                async with asyncio.timeout(WATCH_SECONDS + WATCH_GRACE_SECONDS):
                    text, version = await self.fetch_routes()
                    seen(text)
                    failures = 0
                    async for kind, found in self.client.watch(
                        ConfigMap,
                        namespace=self.namespace,
                        fields={"metadata.name": CONFIG_MAP_NAME},
                        server_timeout=WATCH_SECONDS,
                        resource_version=version,
                    ):
                        seen(None if kind == "DELETED" else (found.data or {}).get(ROUTES_KEY))
            except TimeoutError:
                continue
            except (ApiError, TransportError) as error:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning(
                    "Activator routes not read; trying again",
                    extra={"error": type(error).__name__, "detail": str(error)[:200], "retry_s": delay},
                )
                await asyncio.sleep(delay)

    async def patch_wake_request(self, namespace: str, name: str, at: str) -> bool:
        """Set the provider's wake-requested annotation to `at`; False when the provider does not exist."""
        try:
            await self.client.patch(
                ClaudeCodeProvider,
                name,
                {"metadata": {"annotations": {contract.WAKE_REQUESTED_ANNOTATION: at}}},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as error:
            if error.status.code == 404:
                return False
            raise
        return True
