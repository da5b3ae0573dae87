"""The warm pool's bookkeeping with stand-in processes: which keys stay warm, what it starts, and which
processes it keeps for reuse."""

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
        self.created = self.idle_since = time.monotonic()
        self.closed = False
        self.claimed: SessionKey | None = None
        self.generation = 0

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


async def test_any_system_prompt_takes_the_models_spare_and_a_repeated_output_limit_gets_its_own() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1, warm_models=("sonnet",))
    pool.start()
    try:
        await settle(pool)
        assert pool.take(SessionKey(model="sonnet", system="Today is 12:00:01")) is not None
        await settle(pool)
        assert spawner.started[SONNET] == 2  # the spare taken was replaced at once

        limited = SessionKey(model="sonnet", max_tokens=100)
        assert pool.take(limited) is None  # a one-off limit: no process beyond its own
        await settle(pool)
        assert spawner.started[limited] == 0
        assert pool.take(SessionKey(model="sonnet", system="other", max_tokens=100)) is None
        await settle(pool)
        assert spawner.started[limited] == 1
        assert pool.take(SessionKey(model="sonnet", system="a third", max_tokens=100)) is not None
    finally:
        await pool.close()


async def test_a_model_alone_is_kept_warm_from_its_first_request() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1)
    pool.start()
    try:
        assert pool.take(SessionKey(model="haiku", system="any")) is None
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
        for limit in (10, 20, 30):
            key = SessionKey(model="sonnet", max_tokens=limit)
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
        for limit in (10, 20, 30, 40):
            key = SessionKey(model="haiku", max_tokens=limit)
            pool.take(key)
            pool.take(key)
            await settle(pool)
        assert pool._spawning == {}
        assert pool.ready_count() == 2
    finally:
        await pool.close()


async def test_a_process_given_back_serves_only_requests_with_exactly_its_options() -> None:
    spawner = Spawner()
    pool = pool_of(spawner, size=1)
    pool.start()
    try:
        terse = SessionKey(model="haiku", system="Be terse.")
        pool.take(terse)  # asked for before: worth keeping
        pool.take(terse)
        used = StandIn(terse.parked())
        used.claimed = terse
        assert pool.give_back(used)  # type: ignore[arg-type]

        assert pool.take(SessionKey(model="haiku", system="Be verbose.")) is not used
        assert pool.take(terse) is used
        assert pool.take(terse) is not used
    finally:
        await pool.close()


async def test_a_process_for_a_system_prompt_asked_for_once_is_not_kept() -> None:
    pool = pool_of(Spawner(), size=1)
    pool.start()
    try:
        once = SessionKey(model="haiku", system="It is 12:00:01.")
        pool.take(once)
        used = StandIn(once.parked())
        used.claimed = once
        assert not pool.give_back(used)  # type: ignore[arg-type]
        assert pool.reusable_count() == 0
    finally:
        await pool.close()


async def test_a_process_started_before_a_login_change_is_not_kept() -> None:
    pool = pool_of(Spawner(), size=1)
    pool.start()
    try:
        key = SessionKey(model="haiku")
        pool.take(key)
        serving = StandIn(key)
        serving.claimed, serving.generation = key, pool.generation
        pool.flush()  # a new login while it served
        assert not pool.give_back(serving)  # type: ignore[arg-type]
        assert pool.reusable_count() == 0
    finally:
        await pool.close()


async def test_at_most_max_reusable_processes_are_kept_and_dead_ones_never_handed_out() -> None:
    pool = pool_of(Spawner(), size=1, max_reusable=2)
    pool.start()
    try:
        kept = []
        for system in ("a", "b", "c"):
            session = StandIn(SessionKey(model="haiku"))
            session.claimed = SessionKey(model="haiku", system=system)
            pool.take(session.claimed)
            pool.take(session.claimed)
            pool.give_back(session)  # type: ignore[arg-type]
            kept.append(session)
        assert pool.reusable_count() == 2
        await settle(pool)
        assert kept[0].closed  # the oldest went
        kept[1].closed = True  # died while waiting
        assert pool.take(SessionKey(model="haiku", system="b")) is not kept[1]
        assert pool.take(SessionKey(model="haiku", system="c")) is kept[2]
        pool.give_back(kept[2])  # type: ignore[arg-type]
    finally:
        await pool.close()
    assert kept[2].closed  # what the pool held is stopped with it


async def test_a_closed_pool_keeps_nothing() -> None:
    pool = pool_of(Spawner(), size=1)
    pool.start()
    key = SessionKey(model="haiku")
    pool.take(key)
    await pool.close()
    late = StandIn(key)
    late.claimed = key
    assert not pool.give_back(late)  # type: ignore[arg-type]
    assert pool.reusable_count() == 0
