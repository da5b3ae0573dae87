"""Actual state: per resource, a jittered loop reads the pod's /auth/status -> observation ->
pure status derivation -> patch only if changed. Steady state writes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from typing import Any

import kopf

from .api.resource import Provider
from .metrics import PROBE_RESULTS
from .observations import ProbeFacts
from .probe import probe_auth_status
from .reconcile import write_status
from .state import Key, State
from .status import Facts


async def monitor_auth(state: State, body: Mapping[str, Any], stopped: kopf.DaemonStopped) -> None:
    """Runs until the resource goes or the operator stops; `body` is kopf's live view."""
    key: Key = (body["metadata"]["namespace"], body["metadata"]["name"])
    failures, last_ip = 0, None
    wake = state.wake_event(key)
    try:
        while not stopped:
            provider = Provider.from_body(body)
            probe = provider.spec.probe
            ip = state.pod_ips.get(key)
            if ip != last_ip:
                failures, last_ip = 0, ip
            if ip is not None:
                outcome, report, detail = await probe_auth_status(state.http, ip, probe.timeout_seconds)
                PROBE_RESULTS.labels(outcome).inc()
                failures = 0 if report is not None else failures + 1
                # A single lost answer says nothing about the login; the threshold decides.
                if report is not None or failures >= probe.failure_threshold:
                    facts = ProbeFacts(outcome, report, failures, pod_ip=ip, detail=detail)
                    async with state.lock(key):
                        if state.pod_ips.get(key) == ip:
                            await write_status(state, provider, body, Facts(probe=facts))
            jitter = 1 + random.uniform(-state.config.probe_jitter, state.config.probe_jitter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=probe.interval_seconds * jitter)
            wake.clear()
    finally:
        if (body.get("metadata") or {}).get("deletionTimestamp"):
            state.forget(key)
