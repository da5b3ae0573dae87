"""The activator's settings (from `claude-code-operator activator`'s command line, read once in `cli`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ActivatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: Where the routes ConfigMap is: the operator's namespace.
    namespace: str
    host: str = "0.0.0.0"
    #: /healthz: 200 once the routes have been read (the operator routes sleeping providers to ready pods only).
    health_port: int = Field(default=8080, ge=1, le=65535)
    #: How long a request is held for a waking provider before it gets a 503 with Retry-After.
    hold_seconds: float = Field(default=120.0, gt=0)
    #: The Retry-After of a 503 (a request held past the bound, or too many held).
    retry_after_seconds: int = Field(default=5, ge=1)
    #: Requests held at once, for all providers; more get a 503.
    max_held: int = Field(default=100, ge=1)
    #: The largest request body held (the provider admits images of up to 5 MB each, as base64); more: 413.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    #: Wake-ups each client (source IP) may ask for at once, and how many more per minute after that.
    wake_burst: int = Field(default=5, ge=1)
    wakes_per_minute: float = Field(default=6.0, gt=0)
    #: The longest silence of a woken provider while it answers (a completion's first token can be long).
    upstream_read_seconds: float = Field(default=600.0, gt=0)
