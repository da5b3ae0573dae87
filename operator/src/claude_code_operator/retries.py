"""Reconciles that failed are tried again until they converge, and every resource is reconciled again
now and then (a resync) for what no event announces.

kopf retries no event handler, and a failed reconcile may be followed by no event at all (a pod lost
while the API errors, a refusal whose cause is removed): each failure, from any trigger, hands the
resource to its one retry task, which backs off until a reconcile converges. A resync reads the login
Secret and the pod of each resource (every `resync_seconds`, jittered) and writes nothing when nothing
changed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random

from lightkube import ApiError

from .kube.api import TransportError
from .reconcile import reconcile
from .state import State, Tracked

log = logging.getLogger(__name__)
#: Between the tries of a reconcile that failed: backoff, then every 5 minutes.
RESOURCE_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0, 120.0, 300.0)


def _describe(error: Exception) -> str:
    return f"API error {error.status.code}" if isinstance(error, ApiError) else type(error).__name__


async def _attempt(state: State, tracked: Tracked, trigger: str) -> bool:
    """One reconcile; True once the resource's current generation is converged."""
    generation = tracked.provider.generation
    try:
        converged = await reconcile(state, tracked, trigger)
    except (ApiError, TransportError) as error:
        log.warning(
            "Reconciling %s/%s failed (%s)", tracked.provider.namespace, tracked.provider.name, _describe(error)
        )
        converged = False
    tracked.converged = generation if converged else None
    return converged


async def reconcile_or_retry(state: State, tracked: Tracked, trigger: str) -> None:
    """Reconcile; one that failed (the API refused or did not answer), from whatever trigger, is retried
    with backoff until it converges: kopf retries no event handler, and no event may follow."""
    if not await _attempt(state, tracked, trigger) and tracked.retry is None:
        tracked.retry = asyncio.create_task(_retry(state, tracked))


async def _retry(state: State, tracked: Tracked) -> None:
    """Until the resource converges (or goes: forgetting it cancels this). Runs beside kopf's worker for
    the resource, so the events that arrive meanwhile (a fixed spec) are seen, and the latest is retried."""
    try:
        for delay in itertools.chain(RESOURCE_RETRY_DELAYS, itertools.repeat(RESOURCE_RETRY_DELAYS[-1])):
            await asyncio.sleep(delay)
            if tracked.converged == tracked.provider.generation:
                return  # another trigger converged it meanwhile
            if await _attempt(state, tracked, "retry"):
                return
    finally:
        tracked.retry = None


async def run_resync(state: State) -> None:
    """Runs until cancelled (the operator's clean-up)."""
    jitter = state.config.probe_jitter
    while True:
        await asyncio.sleep(state.config.resync_seconds * (1 + random.uniform(-jitter, jitter)))
        for key, tracked in list(state.tracked.items()):
            if state.get(key) is tracked and tracked.retry is None:
                await reconcile_or_retry(state, tracked, "resync")
