"""Pure: when an idle provider sleeps (its pod removed) and when it wakes.

Idle is measured by the operator's clock, never the pod's: `derive_activity` keeps, for the running pod,
the time of the last probe at which the runtime's request counts (/auth/status `requests`) changed or at
which a request was or had been in flight, starting at the pod's first probe once it is Ready: so the
clock never starts before the last request ended. `derive_sleep` decides from it, from the
resource's previous status (its Asleep condition says since when it sleeps) and from the wake annotation.
What is kept in memory only (the activity) is lost with the operator process: a restarted operator starts
the clock again, so a pod sleeps later, never sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from .api.resource import Provider
from .api.spec import Idle
from .api.status import ClaudeCodeProviderStatus, find_condition
from .observations import RequestCount

#: asleep: the pod is removed until a wake; woken: a wake brought it back (until it sleeps again); awake:
#: the pod runs and sleeps once idle; off: sleeping was turned off for a resource that slept or was woken.
SleepState = Literal["asleep", "woken", "awake", "off"]


@dataclass(frozen=True)
class Activity:
    """The pod's request counts at the last probe, and since when nothing happened (the operator's clock)."""

    started: int
    in_flight: int
    since: datetime


def derive_activity(
    previous: Activity | None, requests: RequestCount | None, ready: bool, now: datetime
) -> Activity | None:
    """The activity after a probe of the same pod (`previous` None: its first probe since it is Ready).
    None: the pod is not Ready (its clock starts at the first probe once it is), the probe got no answer,
    or the runtime does not count its requests (an older image): none of them is idle."""
    if requests is None or not ready:
        return None
    # A request in flight at the last probe ended since: the clock starts at the first probe after it.
    if previous is None or previous.started != requests.started or requests.in_flight or previous.in_flight:
        return Activity(requests.started, requests.in_flight, now)
    return previous


def derive_idle_default(provider: Provider, default: int | None) -> list[dict[str, Any]] | None:
    """The JSON patch that gives a new resource the operator's default sleepAfterSeconds (the chart's
    idle.sleepAfterSeconds), conditional on the spec it was decided from; None: it sets its own, or there
    is no default. Written into the spec, so that the resource says what it does and keeps it when the
    default changes; only for resources the operator has never reconciled (the caller's to know)."""
    if default is None or provider.spec.idle.sleep_after_seconds is not None:
        return None
    return [
        {"op": "test", "path": "/metadata/generation", "value": provider.generation},
        {"op": "add", "path": "/spec/idle", "value": {"sleepAfterSeconds": default}},
    ]


def sleep_after(idle: Idle) -> timedelta | None:
    """None: the provider never sleeps (unset or 0)."""
    return timedelta(seconds=idle.sleep_after_seconds) if idle.sleep_after_seconds else None


def derive_sleep(
    provider: Provider,
    previous: ClaudeCodeProviderStatus,
    wake_requested_at: datetime | None,
    activity: Activity | None,
    now: datetime,
) -> SleepState | None:
    """What the Asleep condition is to say (None: the resource never had one and does not sleep).

    A provider falls asleep when its pod is Ready and no request started or was in flight for
    spec.idle.sleepAfterSeconds; it stays asleep until the wake annotation names a time newer than the
    moment it fell asleep. A suspended provider does not sleep (suspend removes the pod, and lifting it
    starts one); a pod that is not Ready (a rejected login) keeps what its status says."""
    after = sleep_after(provider.spec.idle)
    asleep = find_condition(previous.conditions, "Asleep")
    if after is None:
        return "off" if asleep is not None else None
    if provider.spec.suspend:
        return "awake"
    if asleep is not None and asleep.status == "True":
        woken = wake_requested_at is not None and wake_requested_at > asleep.last_transition_time
        return "woken" if woken else "asleep"
    pod = find_condition(previous.conditions, "PodReady")
    serving = pod is not None and pod.status == "True"
    if serving and activity is not None and now - activity.since >= after:
        return "asleep"
    return "woken" if asleep is not None and asleep.reason == "WakeRequested" else "awake"
