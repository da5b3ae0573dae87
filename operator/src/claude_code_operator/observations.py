"""What the reconciler and the prober saw: plain values that the pure plan and status derivation read,
and the reads that gather them (`fetch_observation`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .api.resource import Provider
from .kube.api import Kube
from .login_facts import LoginSecret
from .render import names
from .wire import truncate

PodState = Literal["suspended", "withheld", "asleep", "pending", "ready", "unready", "replacing", "failed", "refused"]


@dataclass(frozen=True)
class PodFacts:
    state: PodState
    name: str | None = None
    ip: str | None = None
    detail: str = ""

    @property
    def probeable(self) -> bool:
        """The runtime answers /auth/status whenever it runs: a pod that is not Ready (its /readyz fails
        while the login is rejected) is probed too, or a revoked login could never be seen again."""
        return self.state in ("ready", "unready") and self.ip is not None


@dataclass(frozen=True)
class UsageReport:
    """One of the plan's usage windows, as the runtime last heard it."""

    window: str
    #: Percent used, 0-100 (None: the runtime heard of the window without a figure).
    utilization: float | None
    resets_at: datetime | None


@dataclass(frozen=True)
class RequestCount:
    """The runtime's completion requests since it started, and those not answered yet."""

    started: int
    in_flight: int


@dataclass(frozen=True)
class AuthReport:
    """The fields of the runtime's /auth/status the operator uses (never a token)."""

    logged_in: bool
    method: str | None
    subscription_type: str | None
    expires_at: datetime | None
    rate_limited_until: datetime | None
    last_result: str | None
    reason: str
    #: How the pod's last write-back of a refreshed login ended (None: write-back off or not tried yet).
    write_back_result: str | None = None
    #: The last request's error kind, finer than `last_result` (contract.KIND_*; None: it succeeded).
    last_kind: str | None = None
    #: The window whose usage limit is in effect (with `rate_limited_until`).
    limited_window: str | None = None
    usage: tuple[UsageReport, ...] = ()
    #: None: a runtime that does not count its requests (an older image): it is never idle.
    requests: RequestCount | None = None


@dataclass(frozen=True)
class ProbeFacts:
    report: AuthReport | None
    pod_ip: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Observation:
    """What a full reconcile read of the actual state, for the plan."""

    #: The login Secret (None: it does not exist, or was not read because the login is another's).
    secret: LoginSecret | None
    #: The resource's pod as read (None: none there), unless `pod_read` is False (not read: a new resource's
    #: pod most likely does not exist, and is created without reading first).
    pod: Mapping[str, Any] | None
    pod_read: bool
    #: The namespace's pods labelled with the login Secret's name, terminating ones too (None: not listed):
    #: ours is created only when no other pod runs or still holds the login.
    login_pods: tuple[Mapping[str, Any], ...] | None = None
    #: The labels of spec.masterKeySecret's Secret, read with the login (None: none named, not read, or it
    #: does not exist; `master_key_read` tells).
    master_key_labels: Mapping[str, str] | None = None
    master_key_read: bool = False


async def fetch_login_pods(kube: Kube, provider: Provider) -> tuple[Mapping[str, Any], ...]:
    """The pods of the namespace that carry the login Secret's name (a server-side selector)."""
    label = names.login_label(provider.spec.credentials.secret_name)
    return tuple(await kube.fetch_pods(provider.namespace, names.LOGIN_SECRET_LABEL, label))


async def fetch_observation(
    kube: Kube, provider: Provider, *, read_secret: bool, read_pod: bool, list_login_pods: bool
) -> Observation:
    """The reads the plan needs, concurrently."""
    ns = provider.namespace

    async def nothing() -> None:
        return None

    master_key = provider.spec.master_key_secret if read_secret else None
    secret, pod, login_pods, master_key_labels = await asyncio.gather(
        kube.fetch_login_secret(ns, provider.spec.credentials.secret_name) if read_secret else nothing(),
        kube.fetch_pod(ns, names.pod_name(provider.name)) if read_pod else nothing(),
        fetch_login_pods(kube, provider) if list_login_pods else nothing(),
        kube.fetch_secret_labels(ns, master_key.name) if master_key is not None else nothing(),
    )
    return Observation(
        secret=secret,
        pod=pod,
        pod_read=read_pod,
        login_pods=login_pods,
        master_key_labels=master_key_labels,
        master_key_read=master_key is not None,
    )


def derive_pod_facts(pod: Mapping[str, Any]) -> PodFacts:
    """Pure: what a live pod of the resource shows (ready, running but not ready, or still starting)."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ip = status.get("podIP")
    if status.get("phase") != "Running" or not ip:
        return PodFacts("pending", name, detail=truncate(str(status.get("phase") or "")))
    ready = conditions.get("Ready") or {}
    if ready.get("status") == "True":
        return PodFacts("ready", name, ip=ip)
    return PodFacts("unready", name, ip=ip, detail=truncate(str(ready.get("message") or "its readiness probe fails")))
