"""What the reconciler and the prober saw: plain values that the pure status derivation reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

PodState = Literal["absent", "suspended", "withheld", "pending", "ready", "replacing", "failed"]
ProbeOutcome = Literal["ok", "unreachable", "timeout", "bad_response"]


@dataclass(frozen=True)
class PodFacts:
    state: PodState
    name: str | None = None
    ip: str | None = None
    detail: str = ""


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


@dataclass(frozen=True)
class ProbeFacts:
    outcome: ProbeOutcome
    report: AuthReport | None
    consecutive_failures: int
    pod_ip: str | None = None
    detail: str = ""
