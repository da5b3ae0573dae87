"""Warm Claude Code processes: parked spares started ahead of time, and processes kept after a request.

Spares are parked (``--await-claim``) per model and output limit, the options a CLI reads at start-up
(a ``SessionKey`` without system prompt), for at most ``max_keys`` keys (least recently used first out;
configured warm models are always kept); a request claims one with its own system prompt, so any system
prompt is served warm. A model alone is kept warm from its first request, an output limit from its second,
so one-off limits cost no process beyond their own. After a clean answer the engine rewinds the process
to an empty conversation and gives it back (``give_back``): up to ``max_reusable`` such processes wait for
the next request with exactly the same options, which then costs no start-up at all. A process that died,
outgrew ``max_rss_mb`` or sat unused for ``idle_seconds`` is retired;
a process whose answer called the client's tools is held (``hold_pending``) for the request that brings
their results (``take_pending``, by the calls' ids), up to ``max_reusable`` of them, with the same limits;
keys unused that long are dropped
unless they are configured warm models.
Refills run in the background, at most two spawns at a time, and back off when spawning fails, so a
broken CLI neither spins nor ever hands a request a process that is not alive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import suppress

from pydantic import BaseModel, ConfigDict, Field

from ..metrics import Metrics
from .options import SessionKey
from .session import Session

log = logging.getLogger(__name__)

_TICK = 1.0
_MAX_BACKOFF = 30.0
# A CLI start-up takes most of a core for about half a second; more at once only slows requests down.
_MAX_PARALLEL_SPAWNS = 2
# Keys asked for once, remembered to warm them if they come again.
_MAX_SEEN = 256


class PoolSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    size: int = Field(default=2, ge=0, description="parked spares per key; 0 turns the pool off")
    max_keys: int = Field(default=4, gt=0)
    max_reusable: int = Field(default=4, ge=0, description="processes kept after a request for the next one")
    idle_seconds: float = Field(default=600.0, gt=0)
    max_rss_mb: int = Field(default=1024, gt=0)
    warm_models: tuple[str, ...] = Field(default=(), description="models kept warm from the start")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PoolSettings:
        env = os.environ if environ is None else environ
        names = {
            "size": "CLAUDE_CODE_POOL_SIZE",
            "max_keys": "CLAUDE_CODE_POOL_MAX_KEYS",
            "max_reusable": "CLAUDE_CODE_POOL_MAX_REUSABLE",
            "idle_seconds": "CLAUDE_CODE_POOL_IDLE_SECONDS",
            "max_rss_mb": "CLAUDE_CODE_POOL_MAX_RSS_MB",
        }
        values: dict[str, object] = {field: env[var] for field, var in names.items() if env.get(var)}
        if env.get("CLAUDE_CODE_POOL_WARM_MODELS"):
            models = env["CLAUDE_CODE_POOL_WARM_MODELS"].split(",")
            values["warm_models"] = tuple(m.strip() for m in models if m.strip())
        return cls.model_validate(values)


class WarmPool:
    def __init__(
        self, settings: PoolSettings, spawn: Callable[[SessionKey], Awaitable[Session]], metrics: Metrics
    ) -> None:
        self.settings = settings
        self._spawn = spawn
        self._metrics = metrics
        self._ready: OrderedDict[SessionKey, deque[Session]] = OrderedDict()
        # Processes that served a request, by the whole key they were claimed with, oldest first.
        self._reusable: OrderedDict[SessionKey, deque[Session]] = OrderedDict()
        # Processes waiting for the results of the tool calls their answer made, by those calls' ids.
        self._pending: OrderedDict[frozenset[str], Session] = OrderedDict()
        # How often each whole key was asked for (most recent last): a process is kept for reuse only when
        # its key came before.
        self._asked: OrderedDict[SessionKey, int] = OrderedDict()
        self._seen: OrderedDict[SessionKey, float] = OrderedDict()
        self._last_used: dict[SessionKey, float] = {}
        self._spawning: dict[SessionKey, set[asyncio.Task[None]]] = {}
        self._retry_at: dict[SessionKey, float] = {}
        self._failures: dict[SessionKey, int] = {}
        self._pinned = {SessionKey(model=m) for m in settings.warm_models}
        self._closing: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # Bumped by ``flush``: a process started before (with a login no longer current) is never kept.
        self.generation = 0
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for key in self._pinned:
            self._touch(key)
        self._task = asyncio.create_task(self._run(), name="claude-code-warm-pool")

    def usable(self) -> bool:
        """Only the event loop that owns the processes may use them."""
        try:
            return self._task is not None and asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def take(self, key: SessionKey) -> Session | None:
        """A live process for ``key``: one that served these options before (``claimed`` is set), else a
        parked spare for the caller to claim, else None. A spare taken is replaced at once: back-to-back
        requests would otherwise find none."""
        self._asked[key] = self._asked.get(key, 0) + 1
        self._asked.move_to_end(key)
        while len(self._asked) > _MAX_SEEN:
            self._asked.popitem(last=False)
        reusable = self._reusable.get(key)
        while reusable:
            session = reusable.pop()  # the most recently used: the least likely to be near a limit
            if not reusable:
                del self._reusable[key]
            if session.alive():
                self._publish()
                return session
            self._retire(session)
        spare = self._take_spare(key.parked())
        if spare is not None:
            self.wake()
        return spare

    def give_back(self, session: Session) -> bool:
        """Keep a process that answered cleanly and was rewound, for the next request with its options,
        unless those options were new (a system prompt that changes every time would only push out
        processes that are asked for again); False when not kept (the caller stops it)."""
        key = session.claimed
        rss = session.rss_bytes()
        fit = session.alive() and (rss is None or rss <= self.settings.max_rss_mb * 1024 * 1024)
        one_off = key is not None and key.system is not None and self._asked.get(key, 0) < 2
        current = session.generation == self.generation and not self._closed
        if key is None or one_off or not fit or not current or not self.settings.max_reusable or not self.usable():
            return False
        session.idle_since = time.monotonic()
        self._reusable.setdefault(key, deque()).append(session)
        self._reusable.move_to_end(key)
        while self.reusable_count() > self.settings.max_reusable:
            oldest_key = next(iter(self._reusable))
            oldest = self._reusable[oldest_key]
            self._retire(oldest.popleft())
            if not oldest:
                del self._reusable[oldest_key]
        self._publish()
        return True

    def reusable_count(self) -> int:
        return sum(len(q) for q in self._reusable.values())

    def hold_pending(self, session: Session) -> bool:
        """Keep a process whose answer ended in tool calls for the request with their results (the oldest
        held goes when there are more than ``max_reusable``); False when not kept (the caller stops it)."""
        rss = session.rss_bytes()
        fit = session.alive() and (rss is None or rss <= self.settings.max_rss_mb * 1024 * 1024)
        current = session.generation == self.generation and not self._closed
        if not session.pending or not fit or not current or not self.settings.max_reusable or not self.usable():
            return False
        session.idle_since = time.monotonic()
        self._pending[session.pending] = session
        while len(self._pending) > self.settings.max_reusable:
            self._retire(self._pending.popitem(last=False)[1])
        self._publish()
        return True

    def take_pending(self, calls: frozenset[str], keys: Collection[SessionKey]) -> Session | None:
        """The live process waiting for exactly the results of ``calls``, if it has one of ``keys``' options."""
        session = self._pending.get(calls) if calls else None
        if session is None or session.claimed not in keys:
            return None
        del self._pending[calls]
        self._publish()
        if session.alive():
            return session
        self._retire(session)
        return None

    def _take_spare(self, key: SessionKey) -> Session | None:
        bare = key == SessionKey(model=key.model)  # a model alone: likely asked for again
        if key not in self._ready and not bare and self._seen.pop(key, None) is None:
            self._seen[key] = time.monotonic()
            while len(self._seen) > _MAX_SEEN:
                self._seen.popitem(last=False)
            return None
        self._touch(key)
        ready = self._ready.get(key, deque())
        while ready:
            session = ready.popleft()
            if session.alive():
                self._failures.pop(key, None)
                self._publish()
                return session
            self._retire(session)
        self._publish()
        return None

    def wake(self) -> None:
        """Refill now rather than at the next tick (called when a request has finished)."""
        self._wake.set()

    def flush(self) -> None:
        """Retire every warm process, ready or starting (started with a login that is no longer current)."""
        self.generation += 1
        for task in [task for tasks in self._spawning.values() for task in tasks]:
            task.cancel()
        for ready in [*self._ready.values(), *self._reusable.values()]:
            while ready:
                self._retire(ready.popleft())
        self._reusable.clear()
        while self._pending:
            self._retire(self._pending.popitem()[1])
        self._publish()
        self.wake()

    def ready_count(self) -> int:
        """Processes waiting for a request: parked spares, processes kept for reuse or for tool results."""
        return sum(len(q) for q in self._ready.values()) + self.reusable_count() + len(self._pending)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._release()

    async def _release(self) -> None:
        """Stop every process the pool holds or is starting."""
        spawns = [task for tasks in self._spawning.values() for task in tasks]
        for task in spawns:
            task.cancel()
        await asyncio.gather(*spawns, return_exceptions=True)
        sessions = [s for q in [*self._ready.values(), *self._reusable.values()] for s in q]
        sessions += self._pending.values()
        self._ready.clear()
        self._reusable.clear()
        self._pending.clear()
        await asyncio.gather(*(s.close() for s in sessions), *self._closing, return_exceptions=True)
        self._publish()

    def _touch(self, key: SessionKey) -> None:
        self._last_used[key] = time.monotonic()
        if key in self._ready:
            self._ready.move_to_end(key)
            return
        self._ready[key] = deque()
        while len(self._ready) > self.settings.max_keys:
            evicted = next((k for k in self._ready if k not in self._pinned), None)
            if evicted is None:
                break
            self._forget(evicted, self._ready.pop(evicted))

    def _forget(self, key: SessionKey, sessions: deque[Session]) -> None:
        self._last_used.pop(key, None)
        self._retry_at.pop(key, None)
        self._failures.pop(key, None)
        for session in sessions:
            self._retire(session)

    def _retire(self, session: Session) -> None:
        task = asyncio.create_task(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _publish(self) -> None:
        self._metrics.pool_ready.set(self.ready_count())

    async def _run(self) -> None:
        try:
            while True:
                try:
                    self._maintain()
                except Exception:  # the pool must outlive any one bad tick
                    log.exception("Warm pool maintenance failed")
                self._wake.clear()
                with suppress(TimeoutError):
                    async with asyncio.timeout(_TICK):
                        await self._wake.wait()
        finally:
            # Cancelled by ``close`` or by the end of the event loop that owns the processes (``asyncio.run``
            # cancels every task it leaves behind): the last chance to stop them.
            await self._release()

    def _maintain(self) -> None:
        now = time.monotonic()
        for key, seen in list(self._seen.items()):
            if now - seen > self.settings.idle_seconds:
                del self._seen[key]
        self._retire_reusable(now)
        for key in list(self._ready):
            ready = self._ready[key]
            for session in list(ready):
                unfit = self._unfit(session, session.created, now)
                if unfit:
                    ready.remove(session)
                    self._retire(session)
                if unfit == "memory":
                    # An idle CLI already over the cap would be replaced forever: back off as for a failure.
                    log.warning("Warm process over its memory cap", extra={"model": key.model})
                    self._back_off(key)
            idle = now - self._last_used.get(key, now) > self.settings.idle_seconds
            if idle and key not in self._pinned:
                del self._ready[key]
                self._forget(key, ready)
                continue
            if now < self._retry_at.get(key, 0):
                continue
            spawning = self._spawning.get(key, set())
            while len(ready) + len(spawning) < self.settings.size and self._spawn_count() < _MAX_PARALLEL_SPAWNS:
                spawning.add(asyncio.create_task(self._refill(key)))
                self._spawning[key] = spawning
        self._publish()

    def _retire_reusable(self, now: float) -> None:
        """Kept processes that died, outgrew the memory cap or waited too long go (no back-off: a spare of
        the key takes over)."""
        for key in list(self._reusable):
            kept = self._reusable[key]
            for session in list(kept):
                if self._unfit(session, session.idle_since, now):
                    kept.remove(session)
                    self._retire(session)
            if not kept:
                del self._reusable[key]
        for calls, session in list(self._pending.items()):
            if self._unfit(session, session.idle_since, now):
                del self._pending[calls]
                self._retire(session)

    def _unfit(self, session: Session, since: float, now: float) -> str | None:
        """Why a waiting process must go (dead, over the memory cap, waiting since ``since`` for too long)."""
        rss = session.rss_bytes()
        if not session.alive():
            return "dead"
        if rss is not None and rss > self.settings.max_rss_mb * 1024 * 1024:
            return "memory"
        return "idle" if now - since > self.settings.idle_seconds else None

    def _spawn_count(self) -> int:
        return sum(len(tasks) for tasks in self._spawning.values())

    def _back_off(self, key: SessionKey) -> float:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = min(_MAX_BACKOFF, 0.5 * (1 << min(failures, 16)))
        self._retry_at[key] = time.monotonic() + delay
        return delay

    async def _refill(self, key: SessionKey) -> None:
        try:
            session = await self._spawn(key)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            delay = self._back_off(key)
            log.warning(
                "Warm process failed to start",
                extra={"model": key.model, "error": type(error).__name__, "retry_in": delay},
            )
            return
        finally:
            spawning = self._spawning.get(key, set())
            spawning.discard(asyncio.current_task())
            if not spawning:
                self._spawning.pop(key, None)
            self._wake.set()
        if key in self._ready and len(self._ready[key]) < self.settings.size:
            self._ready[key].append(session)
            self._publish()
        else:
            await session.close()
