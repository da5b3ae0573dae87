"""The ClaudeCodeProvider status and the one condition helper (Kubernetes API conventions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import Field

from .spec import Model

ConditionType = Literal[
    "Ready", "Authenticated", "PodReady", "CredentialsValid", "RateLimited", "LoginExpiring", "QuotaLow", "Asleep"
]
ConditionStatus = Literal["True", "False", "Unknown"]
Phase = Literal["Pending", "Ready", "RateLimited", "Unauthenticated", "Degraded", "Invalid", "Suspended", "Asleep"]
CONDITION_TYPES: tuple[ConditionType, ...] = (
    *("Ready", "Authenticated", "PodReady", "CredentialsValid", "RateLimited", "LoginExpiring", "QuotaLow", "Asleep"),
)
LoginKind = Literal["oauth", "setup-token"]


class Condition(Model):
    type: ConditionType
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = Field(default="", max_length=32768)
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: datetime


class Auth(Model):
    """What the runtime's /auth/status said, and what the login Secret says of the login; never a token."""

    logged_in: bool | None = None
    method: str | None = None
    subscription_type: str | None = None
    expires_at: datetime | None = Field(default=None, description="the pod's current access token")
    rate_limited_until: datetime | None = None
    message: str | None = None
    login_kind: LoginKind | None = Field(default=None, description="oauth (a claude auth login) or setup-token")
    login_expires_at: datetime | None = Field(
        default=None,
        description="when the login itself ends: a setup-token's expiry, or the access token's for an OAuth login "
        "that is not refreshed; null for an OAuth login that the pod refreshes and writes back",
    )
    write_back: bool | None = Field(default=None, description="the pod writes refreshed logins to the Secret")


class UsageWindow(Model):
    """One window of the subscription's usage, as the runtime last heard it from Anthropic's answers."""

    window: str = Field(max_length=64, description="five_hour, seven_day, seven_day_opus, ...")
    utilization: float | None = Field(default=None, ge=0, le=100, description="percent of the window used")
    resets_at: datetime | None = None


class ClaudeCodeProviderStatus(Model):
    phase: Phase | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    endpoint: str | None = None
    auth: Auth | None = None
    pod_name: str | None = None
    observed_generation: int | None = None
    usage: list[UsageWindow] = Field(
        default_factory=list, max_length=16, description="the plan's usage windows, the most used first"
    )


def set_condition(
    conditions: Sequence[Condition],
    type_: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Conditions with `type_` set; lastTransitionTime moves only when the status changes
    (as apimachinery's meta.SetStatusCondition). Order: the canonical order of CONDITION_TYPES."""
    previous = next((c for c in conditions if c.type == type_), None)
    since = previous.last_transition_time if previous is not None and previous.status == status else now
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=since,
    )
    merged = {c.type: c for c in conditions}
    merged[type_] = new
    return [merged[t] for t in CONDITION_TYPES if t in merged]


def find_condition(conditions: Sequence[Condition], type_: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
