"""What one operator process keeps in memory: clients, per-resource locks and last-known facts.

Nothing here is authoritative: after a restart it is rebuilt from the API (resume handlers and the
resources' own status), so a killed operator loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from .api.status import ClaudeCodeProviderStatus
from .config import OperatorConfig
from .kube.api import Kube

Key = tuple[str, str]  # (namespace, name)
#: Index of ClaudeCodeProviders by login Secret: (namespace, secretName) -> [(created, name, deleting)].
LoginUsers = Mapping[Key, Iterable[tuple[str, str, bool]]]


@dataclass
class State:
    config: OperatorConfig
    kube: Kube
    http: httpx.AsyncClient
    locks: dict[Key, asyncio.Lock] = field(default_factory=dict)
    status: dict[Key, ClaudeCodeProviderStatus] = field(default_factory=dict)
    pod_ips: dict[Key, str] = field(default_factory=dict)
    wake: dict[Key, asyncio.Event] = field(default_factory=dict)
    keys_complete: set[Key] = field(default_factory=set)

    def lock(self, key: Key) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def wake_event(self, key: Key) -> asyncio.Event:
        return self.wake.setdefault(key, asyncio.Event())

    def known_status(self, key: Key, body: Mapping[str, Any]) -> ClaudeCodeProviderStatus:
        """The last status this process wrote, else the one on the resource (after a restart)."""
        known = self.status.get(key)
        if known is not None:
            return known
        try:
            return ClaudeCodeProviderStatus.model_validate(dict(body.get("status") or {}))
        except ValidationError:
            return ClaudeCodeProviderStatus()

    def forget(self, key: Key) -> None:
        for store in (self.locks, self.status, self.pod_ips, self.wake):
            store.pop(key, None)
        self.keys_complete.discard(key)
        self.kube.forget(*key)

    async def close(self) -> None:
        await self.http.aclose()
        await self.kube.close()


def login_holder(users: LoginUsers, namespace: str, secret: str) -> str | None:
    """The resource that may use the login: the oldest one not being deleted (ties: by name)."""
    entries = sorted((created, name) for created, name, deleting in users.get((namespace, secret), ()) if not deleting)
    return entries[0][1] if entries else None


def login_users_of(users: LoginUsers, namespace: str, secret: str) -> list[str]:
    return sorted({name for _, name, _ in users.get((namespace, secret), ())})
