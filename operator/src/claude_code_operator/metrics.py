"""The operator's Prometheus metrics: probe results, reconcile durations, resources by phase."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping
from typing import get_args

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from .api.status import Phase

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


#: Every value `claude_code_operator_provider_phase` reports per resource (0 or 1 each).
PHASES: tuple[str, ...] = (*get_args(Phase), "Unknown")


class PhaseCollector(Collector):
    """From the operator's view of each resource's status: `claude_code_operator_resources{phase}` (how many
    resources are in each phase) and `claude_code_operator_provider_phase{namespace,name,phase}` (1 for the
    resource's current phase, 0 for the others): the login and usage-limit state per provider, which alerts
    and dashboards name."""

    def __init__(self, phases: Callable[[], Mapping[tuple[str, str], str | None]]) -> None:
        self._phases = phases

    def collect(self) -> Iterable[GaugeMetricFamily]:
        current = {key: phase or "Unknown" for key, phase in self._phases().items()}
        family = GaugeMetricFamily("claude_code_operator_resources", "ClaudeCodeProviders by phase", labels=["phase"])
        for phase, count in sorted(Tally(current.values()).items()):
            family.add_metric([phase], count)
        yield family
        each = GaugeMetricFamily(
            "claude_code_operator_provider_phase",
            "1 for each ClaudeCodeProvider's current phase, 0 for the others",
            labels=["namespace", "name", "phase"],
        )
        for (namespace, name), phase in sorted(current.items()):
            for candidate in PHASES:
                each.add_metric([namespace, name, candidate], 1.0 if candidate == phase else 0.0)
        yield each


def register_phases(phases: Callable[[], Mapping[tuple[str, str], str | None]]) -> None:
    REGISTRY.register(PhaseCollector(phases))
