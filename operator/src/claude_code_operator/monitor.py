"""Actual state: one task for the whole operator reads each pod's /auth/status when it is due ->
observation -> pure status derivation -> patch only if changed. Steady state writes nothing.

A probe also keeps the pod's request activity (`sleep.derive_activity`); a pod idle for its resource's
spec.idle.sleepAfterSeconds is removed by a reconcile the probe starts.

Reconciles say which pod IP to probe (and make a new one due at once); each probe makes the next one
due an interval later, jittered so that resources created together do not probe in lockstep. At most
PROBE_CONCURRENCY probes run at a time, however many resources there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime

from .api.status import find_condition
from .metrics import PROBE_RESULTS
from .observations import ProbeFacts
from .probe import probe_auth_status
from .publish import write_status
from .retries import reconcile_or_retry
from .sleep import derive_activity, derive_sleep
from .state import Key, State
from .status import Facts

log = logging.getLogger(__name__)
PROBE_CONCURRENCY = 32


async def run_probes(state: State) -> None:
    """Runs until cancelled (the operator's clean-up)."""
    loop = asyncio.get_running_loop()
    running: dict[Key, asyncio.Task[None]] = {}
    again: set[Key] = set()  # made due while a probe of theirs was in flight (a new pod IP)
    slots = asyncio.Semaphore(PROBE_CONCURRENCY)

    async def probe(key: Key) -> None:
        async with slots:
            try:
                await probe_once(state, key)
            except Exception:  # a probe must never stop the prober; the next one is scheduled below
                log.exception("Probe of %s/%s failed", *key)
            finally:
                running.pop(key, None)
                if key in again:
                    again.discard(key)
                    state.probes.set(key, loop.time())
                else:
                    _schedule_next(state, key, loop.time())

    try:
        while True:
            state.probes.changed.clear()
            for key in state.probes.pop_due(loop.time()):
                if key in running:
                    again.add(key)
                    continue
                running[key] = asyncio.create_task(probe(key), name=f"probe {key[0]}/{key[1]}")
            next_at = state.probes.next_at()
            timeout = None if next_at is None else max(0.0, next_at - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.probes.changed.wait(), timeout=timeout)
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)


def _schedule_next(state: State, key: Key, now: float) -> None:
    """An interval (jittered) after this probe, unless a reconcile made it due sooner or the pod went."""
    tracked = state.get(key)
    if tracked is None or tracked.pod_ip is None or key in state.probes:
        return
    provider = tracked.provider
    jitter = 1 + random.uniform(-state.config.probe_jitter, state.config.probe_jitter)
    state.probes.set(key, now + provider.spec.probe.interval_seconds * jitter)


async def probe_once(state: State, key: Key) -> None:
    tracked = state.get(key)
    if tracked is None or tracked.pod_ip is None:
        return
    ip = tracked.pod_ip
    probe = tracked.provider.spec.probe
    outcome, report, detail = await probe_auth_status(state.http, ip, probe.timeout_seconds)
    PROBE_RESULTS.labels(outcome).inc()
    last_ip, failures = tracked.probe_failures or (ip, 0)
    failures = 0 if report is not None else (failures if last_ip == ip else 0) + 1
    tracked.probe_failures = (ip, failures)
    # A single lost answer says nothing about the login; the threshold decides.
    if report is None and failures < probe.failure_threshold:
        return
    facts = ProbeFacts(report, pod_ip=ip, detail=detail)
    async with tracked.lock:
        if state.get(key) is not tracked or tracked.pod_ip != ip:
            return
        now = datetime.now(UTC)
        pod = find_condition(tracked.status.conditions, "PodReady")
        ready = pod is not None and pod.status == "True"
        requests = report.requests if report is not None else None
        tracked.activity = derive_activity(tracked.activity, requests, ready, now)
        await write_status(state, tracked, Facts(probe=facts))
        sleep = derive_sleep(tracked.provider, tracked.status, tracked.wake_requested_at, tracked.activity, now)
    if sleep == "asleep":  # the reconcile removes the pod (under the lock, which it takes itself)
        await reconcile_or_retry(state, tracked, "idle")
