"""Operator settings from the command line and the environment (read once, in `cli`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_OPERATOR_LABELS = {"app.kubernetes.io/name": "claude-code-operator"}


class OperatorConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespaces: tuple[str, ...] = ()
    #: Where the operator's pods run and how they are labelled: the NetworkPolicy of every provider
    #: pod admits /auth/status probes from these pods only.
    operator_namespace: str = "claude-code-operator"
    operator_labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_OPERATOR_LABELS))
    metrics_port: int | None = None
    probe_jitter: float = Field(default=0.1, ge=0, le=0.5, description="fraction of the interval")
