"""The plan's usage windows as the runtime last heard them, for /auth/status and /metrics.

Every answer's rate-limit event (``Engine(on_rate_limit=...)``) updates them; nothing spends a model
call for them. A window whose reset time has passed started again: it reads as 0 % used until the next
answer says more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from claude_agent_sdk import RateLimitInfo
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..usage import UsageWindow, derive_usage_windows


class UsageTracker:
    def __init__(self) -> None:
        self._windows: dict[str, UsageWindow] = {}

    def observe(self, info: RateLimitInfo) -> None:
        """Engine callback: a rate-limit event of an answer."""
        for heard in derive_usage_windows(info.raw):
            known = self._windows.get(heard.window)
            if heard.utilization is None and known is not None and known.resets_at == heard.resets_at:
                # The same window again, this time without a figure: keep the last one.
                self._windows[heard.window] = heard.model_copy(update={"utilization": known.utilization})
            else:
                self._windows[heard.window] = heard

    def windows(self, now: datetime | None = None) -> list[UsageWindow]:
        now = now or datetime.now(UTC)
        return [
            w.model_copy(update={"utilization": 0.0, "status": "allowed"})
            if w.resets_at is not None and w.resets_at <= now
            else w
            for w in sorted(self._windows.values(), key=lambda w: w.window)
        ]


class UsageCollector(Collector):
    """``claude_code_usage_utilization{window}`` and ``claude_code_usage_resets_at_seconds{window}``,
    derived at each scrape."""

    def __init__(self, tracker: UsageTracker) -> None:
        self._tracker = tracker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        used = GaugeMetricFamily(
            "claude_code_usage_utilization",
            "Percent (0-100) of the Claude plan's usage window used, as the last answer said.",
            labels=["window"],
        )
        resets = GaugeMetricFamily(
            "claude_code_usage_resets_at_seconds", "When the usage window resets (Unix time).", labels=["window"]
        )
        for window in self._tracker.windows():
            if window.utilization is not None:
                used.add_metric([window.window], window.utilization)
            if window.resets_at is not None:
                resets.add_metric([window.window], window.resets_at.timestamp())
        yield used
        yield resets
