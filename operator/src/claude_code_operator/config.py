"""Operator settings from the command line and the environment (read once, in `cli`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress

from .api.spec import DEFAULT_IMAGE_REPOSITORY

DEFAULT_OPERATOR_LABELS = {"app.kubernetes.io/name": "claude-code-operator"}


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
