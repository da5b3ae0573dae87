"""Pure: one pod per login, judged from pods. Every provider pod carries its login Secret's name as a label
(`render/names.login_label`); a resource starts its pod only when no other pod with that label exists in
its namespace, terminating ones included: a pod on its way out still runs its grace period and its final
write-back, and a second process refreshing the same login would invalidate it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def derive_login_pod_in_the_way(pods: Iterable[Mapping[str, Any]], own_pod: str) -> str | None:
    """The name of another pod that runs (or still holds) this login, or None when there is none.
    `pods`: the namespace's pods labelled with the login Secret's name; `own_pod`: this resource's pod."""
    others = sorted(str(p["metadata"]["name"]) for p in pods if p["metadata"]["name"] != own_pod)
    return others[0] if others else None
