"""The two ways a resource's pod reaches its status: a full reconcile (observe -> plan -> act, in
`converge`), and a pod event read as it is.

Called by the kopf handlers for the resource itself, its pod and its login Secret, always under the
resource's lock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .converge import converge
from .metrics import RECONCILE_SECONDS
from .observations import PodFacts, derive_pod_facts
from .plan import owned
from .publish import record_pod
from .state import Key, State, Tracked
from .status import Facts


async def reconcile(state: State, tracked: Tracked, trigger: str) -> bool:
    """The full pass: login, children, pod; then the status. For the resource's own changes, its login
    Secret's, and a pod that went away or stopped. False: not converged (the API server refused a child;
    the status says so)."""
    started = time.monotonic()
    async with tracked.lock, state.reconciles:
        outcome = await converge(state, tracked)
        await record_pod(state, tracked, outcome.facts)
    RECONCILE_SECONDS.labels(trigger).observe(time.monotonic() - started)
    return outcome.converged


async def observe_pod(state: State, namespace: str, name: str, pod: Mapping[str, Any]) -> bool:
    """A pod event that needs no full reconcile: the pod of a resource that runs one, as the event shows
    it (starting, ready, unready, going). No request but a status patch when its conditions change.
    False: reconcile fully (a pod that stopped or is not this resource's, or nothing known yet)."""
    key: Key = (namespace, name)
    tracked = state.get(key)
    if tracked is None:
        return True  # gone, or not seen yet: the resource's own events reconcile it
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    if tracked.pod_plan == "remove" and deleting:
        return True  # on its way out as decided; the status already says why
    if tracked.pod_plan != "run" or not owned(pod, tracked.provider):
        return False
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        return False
    facts = PodFacts("replacing", pod["metadata"]["name"]) if deleting else derive_pod_facts(pod)
    async with tracked.lock:
        if tracked.pod_plan != "run":
            return False  # a reconcile changed its mind while this waited
        await record_pod(state, tracked, Facts(pod=facts))
    return True
