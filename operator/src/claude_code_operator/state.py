"""What one operator process keeps in memory: clients, the resources as last seen, per-resource locks,
last-known facts and when each pod is probed next.

Nothing here is authoritative: after a restart it is rebuilt from the API (resume handlers and the
resources' own status), so a killed operator loses nothing.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from pydantic import ValidationError

from .api.resource import Provider
from .api.status import ClaudeCodeProviderStatus
from .config import OperatorConfig
from .kube.api import Kube

Key = tuple[str, str]  # (namespace, name)
#: Index of ClaudeCodeProviders by login Secret: (namespace, secretName) -> [(created, name, deleting)].
LoginUsers = Mapping[Key, Iterable[tuple[str, str, bool]]]
#: What the last full reconcile decided about the pod: run it, or keep it away (suspend, no usable login).
PodPlan = Literal["run", "remove"]
#: Full reconciles at a time. A burst (hundreds of resources created at once) queues here rather than
#: for the API connections, and what a reconcile holds in memory is held by this many, not by all.
RECONCILE_CONCURRENCY = 32


@dataclass
class DueTimes:
    """When each key is due (loop time): a heap with lazy removal, where a key's latest time wins."""

    _heap: list[tuple[float, Key]] = field(default_factory=list)
    _due: dict[Key, float] = field(default_factory=dict)
    #: Set when a key became due earlier than everything before it: the waiting loop wakes up.
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __contains__(self, key: Key) -> bool:
        return key in self._due

    def __len__(self) -> int:
        return len(self._due)

    def set(self, key: Key, at: float) -> None:
        if self._due.get(key) == at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, key))
        if self._heap[0] == (at, key):
            self.changed.set()

    def discard(self, key: Key) -> None:
        self._due.pop(key, None)

    def pop_due(self, now: float) -> list[Key]:
        """The keys due by `now`, earliest first; they are no longer scheduled."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            if self._due.get(key) == at:
                del self._due[key]
                due.append(key)
        return due

    def next_at(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # superseded or discarded
        return self._heap[0][0] if self._heap else None


@dataclass
class State:
    config: OperatorConfig
    kube: Kube
    http: aiohttp.ClientSession
    #: Each resource as last seen by a watch (parsed once per event, not per probe or pod event).
    providers: dict[Key, Provider] = field(default_factory=dict)
    locks: dict[Key, asyncio.Lock] = field(default_factory=dict)
    reconciles: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(RECONCILE_CONCURRENCY))
    status: dict[Key, ClaudeCodeProviderStatus] = field(default_factory=dict)
    pod_plans: dict[Key, PodPlan] = field(default_factory=dict)
    #: The spec generation each resource was last reconciled at, and the retries of failed ones.
    converged: dict[Key, int] = field(default_factory=dict)
    retrying: dict[Key, asyncio.Task[None]] = field(default_factory=dict)
    pod_ips: dict[Key, str] = field(default_factory=dict)
    #: Consecutive unanswered probes of a pod IP: (ip, count).
    probe_failures: dict[Key, tuple[str, int]] = field(default_factory=dict)
    probes: DueTimes = field(default_factory=DueTimes)
    #: The task that probes (monitor.run_probes), once started.
    prober: asyncio.Task[None] | None = None
    #: Each resource's login fingerprint key, once its keys Secret holds every key it needs.
    fingerprint_keys: dict[Key, bytes] = field(default_factory=dict)

    def lock(self, key: Key) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def remember(self, body: Mapping[str, Any]) -> Provider | None:
        """Keep a resource as seen by a watch (raises ValidationError for a spec the model refuses); None,
        and everything about it forgotten, once it is being deleted."""
        meta = body["metadata"]
        key: Key = (meta["namespace"], meta["name"])
        if meta.get("deletionTimestamp"):
            self.forget(key)
            return None
        provider = self.providers.get(key)
        if provider is not None and provider.uid != meta["uid"]:
            self.forget(key)  # deleted and created again while the watch was away
            provider = None
        if provider is None or provider.generation != int(meta.get("generation") or 0):
            provider = Provider.from_body(body)
            self.providers[key] = provider
        if key not in self.status:
            # After a restart: the status on the resource is what this process last wrote.
            try:
                self.status[key] = ClaudeCodeProviderStatus.model_validate(dict(body.get("status") or {}))
            except ValidationError:
                self.status[key] = ClaudeCodeProviderStatus()
        return provider

    def forget(self, key: Key) -> None:
        self.providers.pop(key, None)
        self.locks.pop(key, None)
        self.status.pop(key, None)
        self.pod_plans.pop(key, None)
        self.converged.pop(key, None)
        retry = self.retrying.pop(key, None)
        if retry is not None:
            retry.cancel()
        self.pod_ips.pop(key, None)
        self.probe_failures.pop(key, None)
        self.probes.discard(key)
        self.fingerprint_keys.pop(key, None)
        self.kube.forget(*key)

    async def close(self) -> None:
        if self.prober is not None:
            self.prober.cancel()
            await asyncio.gather(self.prober, return_exceptions=True)
        await self.http.close()
        await self.kube.close()


def login_holder(users: LoginUsers, namespace: str, secret: str) -> str | None:
    """The resource that may use the login: the oldest one not being deleted (ties: by name)."""
    entries = sorted((created, name) for created, name, deleting in users.get((namespace, secret), ()) if not deleting)
    return entries[0][1] if entries else None


def login_users_of(users: LoginUsers, namespace: str, secret: str) -> list[str]:
    return sorted({name for _, name, _ in users.get((namespace, secret), ())})
