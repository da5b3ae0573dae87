"""The operator's Prometheus metrics: probe results, reconcile durations, resources by phase."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

PROBE_RESULTS = Counter(
    "claude_code_operator_probe_results", "Reads of a provider pod's /auth/status, by outcome", ["outcome"]
)
RECONCILE_SECONDS = Histogram(
    "claude_code_operator_reconcile_duration_seconds",
    "Time to reconcile one ClaudeCodeProvider, by what triggered it",
    ["trigger"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STATUS_WRITES = Counter("claude_code_operator_status_writes", "Status patches of ClaudeCodeProviders")


class PhaseCollector(Collector):
    """`claude_code_operator_resources{phase}` from the operator's view of each resource's status."""

    def __init__(self, phases: Callable[[], Iterable[str | None]]) -> None:
        self._phases = phases

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("claude_code_operator_resources", "ClaudeCodeProviders by phase", labels=["phase"])
        counts: Mapping[str, int] = Tally(p or "Unknown" for p in self._phases())
        for phase, count in sorted(counts.items()):
            family.add_metric([phase], count)
        yield family


def register_phases(phases: Callable[[], Iterable[str | None]]) -> None:
    REGISTRY.register(PhaseCollector(phases))
