"""Operator settings from the command line and the environment (read once, in `cli`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .api.spec import Resources

DEFAULT_OPERATOR_LABELS = {"app.kubernetes.io/name": "claude-code-operator"}


class PodDefaults(BaseModel):
    """Requests and limits of a provider pod's containers where its spec sets none (the chart's
    providerResources), so that the pods are never BestEffort, the first evicted under pressure.

    Sized from measured RSS: the runtime holds its own process (about 80 MiB) and its warm Claude Code
    processes (about 190 MiB each; 2 spares by default, up to 4 in flight plus the kept ones); the LiteLLM
    proxy idles at about 315 MiB."""

    model_config = ConfigDict(frozen=True)

    runtime: Resources = Resources(requests={"cpu": "100m", "memory": "512Mi"}, limits={"memory": "2Gi"})
    litellm: Resources = Resources(requests={"cpu": "50m", "memory": "384Mi"}, limits={"memory": "1Gi"})

    def overridden(self, *, runtime: Resources | None, litellm: Resources | None) -> PodDefaults:
        """These defaults with each given part (requests, limits) replaced."""

        def merge(default: Resources, given: Resources | None) -> Resources:
            if given is None:
                return default
            return Resources(requests=given.requests or default.requests, limits=given.limits or default.limits)

        return PodDefaults(runtime=merge(self.runtime, runtime), litellm=merge(self.litellm, litellm))


class OperatorConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespaces: tuple[str, ...] = ()
    #: Where the operator's pods run and how they are labelled: the NetworkPolicy of every provider
    #: pod admits /auth/status probes from these pods only.
    operator_namespace: str = "claude-code-operator"
    operator_labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_OPERATOR_LABELS))
    metrics_port: int | None = None
    probe_jitter: float = Field(default=0.1, ge=0, le=0.5, description="fraction of the interval")
    #: Every resource is reconciled again this often (jittered by probe_jitter): reads only, unless
    #: something changed that no event announced.
    resync_seconds: float = Field(default=300.0, gt=0)
    pod_defaults: PodDefaults = Field(default_factory=PodDefaults)
    #: A pod that only a new operator version renders differently is replaced at most once this often,
    #: across all resources (an upgrade does not restart every provider at once).
    rollout_seconds: float = Field(default=5.0, ge=0)
