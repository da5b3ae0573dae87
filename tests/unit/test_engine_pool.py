"""The warm pool's bookkeeping with stand-in processes: which keys stay warm, and what it starts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from claude_code_provider.engine.options import SessionKey
from claude_code_provider.engine.pool import PoolSettings, WarmPool
from claude_code_provider.metrics import Metrics


class StandIn:
    """What the pool reads of a session: a live process that takes no memory."""

    def __init__(self, key: SessionKey) -> None:
        self.key = key
        self.created = time.monotonic()
        self.closed = False

    def alive(self) -> bool:
        return not self.closed

    def rss_bytes(self) -> int | None:
        return 0

    async def close(self) -> None:
        self.closed = True


class Spawner:
    def __init__(self) -> None:
        self.started: Counter[SessionKey] = Counter()

    async def __call__(self, key: SessionKey) -> StandIn:
        self.started[key] += 1
        return StandIn(key)


async def settle(pool: WarmPool) -> None:
    """Let the pool refill what it wants to and finish every start it began."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pool.wake()
        await asyncio.sleep(0.01)
        if not pool._spawning:
            return
    raise AssertionError(f"starts still running: {pool._spawning}")


def pool_of(spawner: Spawner, **settings: object) -> WarmPool:
    return WarmPool(PoolSettings.model_validate(settings), spawner, Metrics())  # type: ignore[arg-type]


SONNET = SessionKey(model="sonnet")


async def test_a_one_off_option_set_starts_no_warm_process_but_a_repeated_one_does() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1, warm_models=("sonnet",))
    pool.start()
    try:
        await settle(pool)
        one_off = SessionKey(model="sonnet", system="Today is 12:00:01")
        assert pool.take(one_off) is None
        await settle(pool)
        assert spawner.started[one_off] == 0

        repeated = SessionKey(model="sonnet", system="Be terse.")
        assert pool.take(repeated) is None
        assert pool.take(repeated) is None
        await settle(pool)
        assert spawner.started[repeated] == 1
        assert pool.take(repeated) is not None
    finally:
        await pool.close()


async def test_a_model_alone_is_kept_warm_from_its_first_request() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1)
    pool.start()
    try:
        assert pool.take(SessionKey(model="haiku")) is None
        await settle(pool)
        assert spawner.started[SessionKey(model="haiku")] == 1
    finally:
        await pool.close()


async def test_always_warm_models_are_never_evicted_by_other_keys() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1, max_keys=1, warm_models=("sonnet",))
    pool.start()
    try:
        await settle(pool)
        for system in ("a", "b", "c"):
            key = SessionKey(model="sonnet", system=system)
            pool.take(key)
            pool.take(key)
            await settle(pool)
        warm = pool.take(SONNET)
        assert warm is not None
        await settle(pool)
        assert pool.take(SONNET) is not None
    finally:
        await pool.close()


async def test_finished_starts_leave_no_bookkeeping_behind() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1, max_keys=2)
    pool.start()
    try:
        for system in ("a", "b", "c", "d"):
            key = SessionKey(model="haiku", system=system)
            pool.take(key)
            pool.take(key)
            await settle(pool)
        assert pool._spawning == {}
        assert pool.ready_count() == 2
    finally:
        await pool.close()
