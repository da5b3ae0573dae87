"""What both loops do with what they saw: derive the status and write it when it changed (with the
Events of its transitions), and point the prober at the pod that answers."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import kopf
from lightkube import ApiError

from .api.resource import Provider
from .metrics import STATUS_WRITES
from .state import State, Tracked
from .status import Facts, derive_status, derive_transitions

log = logging.getLogger(__name__)


def _event_target(provider: Provider) -> Any:
    return {
        "apiVersion": provider.owner_reference()["apiVersion"],
        "kind": provider.owner_reference()["kind"],
        "metadata": {"name": provider.name, "namespace": provider.namespace, "uid": provider.uid},
    }


async def record_pod(state: State, tracked: Tracked, facts: Facts) -> None:
    """Point the prober at a pod that answers (a new one now, not an interval later); then the status."""
    key = (tracked.provider.namespace, tracked.provider.name)
    pod = facts.pod
    if pod is not None and pod.probeable and pod.ip is not None:
        if tracked.pod_ip != pod.ip:
            tracked.pod_ip, tracked.activity = pod.ip, None
            state.probes.set(key, asyncio.get_running_loop().time())
    elif pod is not None:
        tracked.pod_ip, tracked.activity = None, None
        state.probes.discard(key)
    await write_status(state, tracked, facts)


async def write_status(state: State, tracked: Tracked, facts: Facts) -> None:
    """Derive the status; patch it and post Events only when it changed."""
    provider = tracked.provider
    previous = tracked.status
    current = derive_status(previous, provider, facts, datetime.now(UTC), warn_percent=state.config.quota_warn_percent)
    if current == previous:
        return
    try:
        await state.kube.patch_status(provider.namespace, provider.name, current.model_dump(mode="json"))
    except ApiError as error:
        if error.status.code == 404:
            return
        raise
    STATUS_WRITES.inc()
    tracked.status = current
    target = kopf.Body(_event_target(provider))
    for transition in derive_transitions(previous, current, provider.spec.owner):
        kopf.event(target, type=transition.type, reason=transition.reason, message=transition.message)
    log.info(
        "Status of %s/%s is %s",
        provider.namespace,
        provider.name,
        current.phase,
        extra={"conditions": {c.type: f"{c.status}/{c.reason}" for c in current.conditions}},
    )
