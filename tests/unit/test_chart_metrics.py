"""The chart's alerts and dashboard query only metrics the operator and the runtime really export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from claude_code_operator import metrics as operator_metrics
from claude_code_provider.metrics import Metrics
from claude_code_provider.runtime.usage import UsageCollector, UsageTracker

CHART = Path(__file__).resolve().parents[2] / "charts" / "claude-code-operator"
OURS = re.compile(r"\bclaude_code_[a-z_]+")


def exported() -> set[str]:
    """Every sample name a scrape of the operator or of a provider pod's runtime can show."""
    operator = CollectorRegistry()
    for collector in (
        operator_metrics.PROBE_RESULTS,
        operator_metrics.RECONCILE_SECONDS,
        operator_metrics.STATUS_WRITES,
    ):
        operator.register(collector)
    operator.register(operator_metrics.PhaseCollector(lambda: {("team", "alice"): "Ready"}))
    runtime = Metrics().registry
    runtime.register(UsageCollector(UsageTracker()))  # as the runtime's start-up registers it
    names = set()
    for registry in (operator, runtime):
        for family in registry.collect():
            # Labelled metrics show no sample before their first use: the names their type gives them.
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
            names |= {family.name + suffix for suffix in suffixes}
    return names


def queried() -> set[str]:
    rules = (CHART / "templates" / "monitoring.yaml").read_text()
    dashboard = json.loads((CHART / "dashboards" / "claude-code.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(dashboard["templating"]["list"][1]["query"])
    return set(OURS.findall(rules + "\n".join(exprs)))


def test_alerts_and_dashboard_use_exported_metric_names() -> None:
    used = queried()
    assert {"claude_code_operator_resources", "claude_code_requests_total", "claude_code_pool_hit_ratio"} <= used
    assert "claude_code_usage_utilization" in used
    assert used - exported() == set()


def test_each_provider_reports_its_phase_and_the_counts_add_up() -> None:
    registry = CollectorRegistry()
    phases = {("team", "alice"): "Unauthenticated", ("team", "bob"): "RateLimited", ("ops", "carol"): None}
    registry.register(operator_metrics.PhaseCollector(lambda: phases))
    value = registry.get_sample_value
    assert (
        value("claude_code_operator_provider_phase", {"namespace": "team", "name": "alice", "phase": "Unauthenticated"})
        == 1
    )
    assert value("claude_code_operator_provider_phase", {"namespace": "team", "name": "alice", "phase": "Ready"}) == 0
    assert (
        value("claude_code_operator_provider_phase", {"namespace": "team", "name": "bob", "phase": "RateLimited"}) == 1
    )
    assert value("claude_code_operator_provider_phase", {"namespace": "ops", "name": "carol", "phase": "Unknown"}) == 1
    assert value("claude_code_operator_resources", {"phase": "RateLimited"}) == 1
    assert value("claude_code_operator_resources", {"phase": "Ready"}) is None
