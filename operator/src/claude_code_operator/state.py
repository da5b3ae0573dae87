"""What one operator process keeps in memory: clients, one `Tracked` record per resource (as last seen,
its lock, last-known facts) and when each pod is probed next.

Nothing here is authoritative: after a restart it is rebuilt from the API (resume handlers and the
resources' own status), so a killed operator loses nothing.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import ValidationError

from . import contract
from .api.resource import Provider
from .api.status import ClaudeCodeProviderStatus
from .config import OperatorConfig
from .kube.api import Kube
from .plan import PodPlan
from .sleep import Activity
from .wire import parse_rfc3339

Key = tuple[str, str]  # (namespace, name)
#: Index of ClaudeCodeProviders by the Secrets they name (login, master key): (namespace, secret) -> [name]:
#: whom a Secret's event concerns. Whose a Secret is, its label says (`claims`), not this index.
LoginUsers = Mapping[Key, Iterable[str]]
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
class Tracked:
    """All this process keeps of one resource: forgetting the resource drops this record, and with it
    everything (no table to clear by hand)."""

    provider: Provider
    #: As last written by this process, or read from the resource after a restart.
    status: ClaudeCodeProviderStatus = field(default_factory=ClaudeCodeProviderStatus)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: What the last full reconcile decided about the pod (None: nothing yet).
    pod_plan: PodPlan | None = None
    #: The spec generation last converged, and the retry of a failed reconcile while one runs.
    converged: int | None = None
    retry: asyncio.Task[None] | None = None
    #: The IP the prober reads, and its consecutive unanswered probes of that IP: (ip, count).
    pod_ip: str | None = None
    probe_failures: tuple[str, int] | None = None
    keys_complete: bool = False
    #: A digest of the generated keys as last written or read (the pod carries the one it started with).
    keys_digest: str | None = None
    #: The login fingerprint key among them (the key of the login's hashes on the pod), once known.
    fingerprint_key: bytes | None = None
    #: The probed pod's requests as last seen changing (None: not probed yet; forgotten with its IP).
    activity: Activity | None = None
    #: The resource's wake annotation (contract.WAKE_REQUESTED_ANNOTATION) as last seen.
    wake_requested_at: datetime | None = None

    @property
    def never_reconciled(self) -> bool:
        """No status written yet: a new resource, whose pod and keys most likely do not exist."""
        return self.status.observed_generation is None


@dataclass
class State:
    config: OperatorConfig
    kube: Kube
    http: aiohttp.ClientSession
    #: Each resource as last seen by a watch (parsed once per event, not per probe or pod event).
    tracked: dict[Key, Tracked] = field(default_factory=dict)
    reconciles: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(RECONCILE_CONCURRENCY))
    probes: DueTimes = field(default_factory=DueTimes)
    #: The tasks that probe (monitor.run_probes) and resync (retries.run_resync), once started.
    prober: asyncio.Task[None] | None = None
    resync: asyncio.Task[None] | None = None
    #: Loop time of the last gradual replacement (see OperatorConfig.rollout_seconds).
    last_rollout: float | None = None

    def take_rollout(self, now: float) -> bool:
        """Whether a gradual replacement may happen now (and then it counts as the last one)."""
        if self.last_rollout is not None and now - self.last_rollout < self.config.rollout_seconds:
            return False
        self.last_rollout = now
        return True

    def get(self, key: Key) -> Tracked | None:
        return self.tracked.get(key)

    def remember(self, body: Mapping[str, Any]) -> Tracked | None:
        """Keep a resource as seen by a watch (raises ValidationError for a spec the model refuses); None,
        and everything about it forgotten, once it is being deleted."""
        meta = body["metadata"]
        key: Key = (meta["namespace"], meta["name"])
        if meta.get("deletionTimestamp"):
            self.forget(key)
            return None
        tracked = self.tracked.get(key)
        if tracked is not None and tracked.provider.uid != meta["uid"]:
            self.forget(key)  # deleted and created again while the watch was away
            tracked = None
        if tracked is None:
            tracked = Tracked(Provider.from_body(body), status=_status_of(body))
            self.tracked[key] = tracked
        elif tracked.provider.generation != int(meta.get("generation") or 0):
            tracked.provider = Provider.from_body(body)
        tracked.wake_requested_at = parse_rfc3339(
            (meta.get("annotations") or {}).get(contract.WAKE_REQUESTED_ANNOTATION)
        )
        return tracked

    def forget(self, key: Key) -> None:
        tracked = self.tracked.pop(key, None)
        if tracked is not None and tracked.retry is not None:
            tracked.retry.cancel()
        self.probes.discard(key)
        self.kube.forget(*key)

    async def close(self) -> None:
        tasks = [task for task in (self.prober, self.resync) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.http.close()
        await self.kube.close()


def _status_of(body: Mapping[str, Any]) -> ClaudeCodeProviderStatus:
    """After a restart: the status on the resource is what this process last wrote."""
    try:
        return ClaudeCodeProviderStatus.model_validate(dict(body.get("status") or {}))
    except ValidationError:
        return ClaudeCodeProviderStatus()


def login_users_of(users: LoginUsers, namespace: str, secret: str) -> list[str]:
    return sorted(set(users.get((namespace, secret), ())))
