"""Pure: the plan's usage windows for `status.usage`, and the QuotaLow condition derived from them.

QuotaLow is True while a window is used at or above the threshold (spec.quota.warnPercent, else the
operator's), or while the last request needed the plan's extra usage; it turns False when the window
resets (reason WindowReset, kept until it turns True again) or falls below the threshold (QuotaOk).
Messages carry figures, reasons do not: a new figure is one status write (status.usage changes with it
anyway), and an Event comes only with a new reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from . import contract
from .api.status import Condition, ConditionStatus, UsageWindow
from .observations import UsageReport
from .wire import to_rfc3339

QUOTA_OK = "QuotaOk"
WINDOW_RESET = "WindowReset"
USAGE_HIGH = "UsageAboveThreshold"
EXTRA_USAGE_REQUIRED = "ExtraUsageRequired"
NO_WINDOWS = "No usage window reported yet: the runtime hears them with each answer from Anthropic."


def _most_used_first(window: UsageWindow) -> tuple[float, str]:
    return (-(window.utilization if window.utilization is not None else -1.0), window.window)


def derive_usage(reports: Sequence[UsageReport], now: datetime) -> list[UsageWindow]:
    """The windows, most used first (the printer column shows the first). A window whose reset time has
    passed started again: 0 % until an answer says more (as the runtime reports it too)."""
    windows = [
        UsageWindow(
            window=r.window,
            utilization=0.0 if r.resets_at is not None and r.resets_at <= now else r.utilization,
            resets_at=r.resets_at,
        )
        for r in reports
    ]
    return sorted(windows, key=_most_used_first)


def _percent(value: float) -> str:
    return f"{value:g} %"


def _when(value: datetime | None) -> str:
    return to_rfc3339(value) if value is not None else "an unknown time"


def _reset_windows(before: Sequence[UsageWindow], now_windows: Sequence[UsageWindow], now: datetime) -> list[str]:
    """Names of the windows of `before` that have reset since (their reset time passed, or moved on)."""
    current = {w.window: w for w in now_windows}
    out = []
    for old in before:
        new = current.get(old.window)
        passed = old.resets_at is not None and old.resets_at <= now
        moved = new is not None and None not in (new.resets_at, old.resets_at) and new.resets_at != old.resets_at
        if passed or moved:
            out.append(old.window)
    return out


def derive_quota(
    previous: Condition | None,
    previous_usage: Sequence[UsageWindow],
    usage: Sequence[UsageWindow],
    warn_percent: int,
    last_kind: str | None,
    now: datetime,
) -> tuple[ConditionStatus, str, str]:
    """(status, reason, message) of QuotaLow. `usage` as `derive_usage` gives it (most used first);
    `last_kind`: the runtime's last request's error kind."""
    high = [w for w in usage if w.utilization is not None and w.utilization >= warn_percent]
    if high:
        parts = ", ".join(
            f"the {contract.to_window_name(w.window)} window {_percent(w.utilization or 0)} "
            f"(it resets at {_when(w.resets_at)})"
            for w in high
        )
        return (
            "True",
            USAGE_HIGH,
            f"The subscription's usage is at or above {warn_percent} %: {parts}. Requests are refused (429) "
            "once a window is used up, until it resets.",
        )
    if last_kind == contract.KIND_EXTRA_USAGE_REQUIRED:
        return (
            "True",
            EXTRA_USAGE_REQUIRED,
            "The last request needed the plan's extra usage (long-context requests are not part of its included "
            "usage): turn it on at https://claude.ai/settings/usage, or send shorter conversations. Other "
            "requests are served.",
        )
    if previous is not None and previous.status == "False" and previous.reason == WINDOW_RESET:
        return "False", WINDOW_RESET, previous.message  # what the last transition was, until the next one
    if previous is not None and previous.status == "True":
        before = [w for w in previous_usage if w.utilization is not None and w.utilization >= warn_percent]
        reset = _reset_windows(before, usage, now)
        if reset:
            names = " and ".join(f"the {contract.to_window_name(w)} window" for w in reset)
            message = f"{names[0].upper()}{names[1:]} reset; every window is below {warn_percent} %."
            return "False", WINDOW_RESET, message
    if not usage:
        return "False", QUOTA_OK, NO_WINDOWS
    top = usage[0]
    figure = f"; the most used is the {contract.to_window_name(top.window)} window" + (
        f" at {_percent(top.utilization)}" if top.utilization is not None else ""
    )
    return "False", QUOTA_OK, f"Every usage window is below {warn_percent} %{figure}."
