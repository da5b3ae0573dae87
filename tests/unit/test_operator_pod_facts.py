"""What the operator reads from its pod: which pods it probes (a running, unready pod included)."""

from __future__ import annotations

from typing import Any

import pytest

from claude_code_operator.observations import derive_pod_facts


def pod(phase: str, ip: str | None, ready: str | None) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "message": "probe says no"}]
    return {
        "metadata": {"name": "alice-claude-code"},
        "status": {"phase": phase, "podIP": ip, "conditions": conditions},
    }


@pytest.mark.parametrize(
    ("phase", "ip", "ready", "state", "probeable"),
    [
        ("Pending", None, None, "pending", False),
        ("Running", None, "False", "pending", False),
        ("Running", "127.100.0.5", "True", "ready", True),
        # Unready because its login is rejected: still probed, so the revocation shows and clears.
        ("Running", "127.100.0.5", "False", "unready", True),
        ("Running", "127.100.0.5", None, "unready", True),
    ],
)
def test_pod_facts(phase: str, ip: str | None, ready: str | None, state: str, probeable: bool) -> None:
    facts = derive_pod_facts(pod(phase, ip, ready))
    assert (facts.state, facts.probeable) == (state, probeable)
    assert facts.ip == (ip if probeable else None)
