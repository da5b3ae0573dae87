"""Pure: the Claude plan's usage windows, as the CLI reports them after every answer.

Each answer's ``anthropic-ratelimit-unified-*`` headers reach the SDK as a rate-limit event: the window
that decides (``rateLimitType``, with ``status`` and ``resetsAt``) and, in its raw form, every window the
headers named (``unifiedWindows``: utilization as a fraction, ``resetsAt`` in Unix seconds, status).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: What people call each window (the CLI's ``rateLimitType`` values).
WINDOW_NAMES: Mapping[str, str] = {
    "five_hour": "five-hour",
    "seven_day": "weekly",
    "seven_day_opus": "weekly Opus",
    "seven_day_sonnet": "weekly Sonnet",
    "overage": "extra-usage",
}


def to_window_name(window: str | None) -> str | None:
    """``five-hour`` for ``five_hour``; an unknown window by its own name, None for none."""
    if not window:
        return None
    return WINDOW_NAMES.get(window, window.replace("_", " "))


class UsageWindow(BaseModel):
    """One window of the plan's usage; never a token."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    window: str = Field(description="the CLI's name: five_hour, seven_day, seven_day_opus, ...")
    utilization: float | None = Field(default=None, description="percent of the window used, 0-100")
    resets_at: datetime | None = Field(default=None, alias="resetsAt")
    status: str | None = Field(default=None, description="allowed, allowed_warning or rejected")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def derive_usage_windows(raw: Mapping[str, Any]) -> list[UsageWindow]:
    """The windows in a rate-limit event's raw form, by name."""
    windows = raw.get("unifiedWindows")
    found: dict[str, UsageWindow] = {}
    if isinstance(windows, Mapping):
        for name, value in windows.items():
            if not isinstance(name, str) or not isinstance(value, Mapping):
                continue
            fraction, resets = _number(value.get("utilization")), _number(value.get("resetsAt"))
            found[name] = UsageWindow(
                window=name,
                utilization=round(fraction * 100, 2) if fraction is not None else None,
                resets_at=datetime.fromtimestamp(resets, UTC) if resets is not None else None,
                status=value.get("status") if isinstance(value.get("status"), str) else None,
            )
    # The deciding window may be one the list leaves out (a model-specific one): its status and reset.
    deciding, resets = raw.get("rateLimitType"), _number(raw.get("resetsAt"))
    if isinstance(deciding, str) and deciding not in found:
        found[deciding] = UsageWindow(
            window=deciding,
            resets_at=datetime.fromtimestamp(resets, UTC) if resets is not None else None,
            status=raw.get("status") if isinstance(raw.get("status"), str) else None,
        )
    return sorted(found.values(), key=lambda w: w.window)
