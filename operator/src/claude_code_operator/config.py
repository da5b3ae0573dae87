"""Operator settings from the command line and the environment (read once, in `cli`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress

from .api.spec import DEFAULT_IMAGE_REPOSITORY, Resources

DEFAULT_OPERATOR_LABELS = {"app.kubernetes.io/name": "claude-code-operator"}
#: QuotaLow's threshold (percent of a usage window used) when neither the chart nor the resource sets one.
DEFAULT_WARN_PERCENT = 80


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


class ApiServerEndpoint(BaseModel):
    """One real address and port of the API server (what `kubernetes.default:443` is translated to)."""

    model_config = ConfigDict(frozen=True)

    address: IPvAnyAddress
    port: int = Field(ge=1, le=65535)


class OperatorConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespaces: tuple[str, ...] = ()
    #: Where the operator's pods run and how they are labelled: the NetworkPolicy of every provider
    #: pod admits /auth/status probes from these pods only.
    operator_namespace: str = "claude-code-operator"
    operator_labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_OPERATOR_LABELS))
    metrics_port: int | None = None
    #: Where write-back pods may reach the API server (their egress NetworkPolicy); from the command line,
    #: else read from the `default/kubernetes` EndpointSlice at start-up; empty when neither says.
    api_server: tuple[ApiServerEndpoint, ...] = ()
    #: Image repositories provider pods may run (`repo` any tag or digest of it; `prefix/` anything under it):
    #: a pod mounts its owner's login, so its images are the administrator's choice, not the resource's.
    allowed_images: tuple[str, ...] = (DEFAULT_IMAGE_REPOSITORY,)
    #: Service types besides ClusterIP that resources may ask for (each also needs ipBlock peers in allowFrom).
    external_service_types: tuple[Literal["NodePort", "LoadBalancer"], ...] = ()
    probe_jitter: float = Field(default=0.1, ge=0, le=0.5, description="fraction of the interval")
    #: Every resource is reconciled again this often (jittered by probe_jitter): reads only, unless
    #: something changed that no event announced.
    resync_seconds: float = Field(default=300.0, gt=0)
    pod_defaults: PodDefaults = Field(default_factory=PodDefaults)
    #: A pod that only a new operator version renders differently is replaced at most once this often,
    #: across all resources (an upgrade does not restart every provider at once).
    rollout_seconds: float = Field(default=5.0, ge=0)
    #: QuotaLow turns True when a usage window is this much used (percent), unless spec.quota says otherwise.
    quota_warn_percent: int = Field(default=DEFAULT_WARN_PERCENT, ge=1, le=100)
    #: Written into the spec of new resources that set no spec.idle.sleepAfterSeconds (None: nothing).
    default_sleep_after_seconds: int | None = Field(default=None, ge=5, le=30 * 86400)
