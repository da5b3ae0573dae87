"""What the reconciler and the prober saw: plain values that the pure status derivation reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

PodState = Literal["absent", "suspended", "withheld", "pending", "ready", "unready", "replacing", "failed"]
ProbeOutcome = Literal["ok", "unreachable", "timeout", "bad_response"]


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


@dataclass(frozen=True)
class ProbeFacts:
    outcome: ProbeOutcome
    report: AuthReport | None
    consecutive_failures: int
    pod_ip: str | None = None
    detail: str = ""
