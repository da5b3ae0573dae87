"""Runtime settings from environment variables (the operator's pod spec sets them)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

_VARIABLES = {
    "listen_host": "CLAUDE_RUNTIME_LISTEN_HOST",
    "port": "CLAUDE_RUNTIME_PORT",
    "api_host": "CLAUDE_RUNTIME_API_HOST",
    "api_port": "CLAUDE_RUNTIME_API_PORT",
    "login_dir": "CLAUDE_LOGIN_DIR",
    "auth_refresh_seconds": "CLAUDE_RUNTIME_AUTH_REFRESH_SECONDS",
    "pod_name": "HOSTNAME",  # a pod's hostname is its name
    "namespace": "CLAUDE_LOGIN_SECRET_NAMESPACE",  # the login Secret lives in the pod's namespace
}


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    listen_host: str = Field(default="0.0.0.0", description="health and auth status, on the pod network")
    port: int = Field(default=8080, gt=0, lt=65536)
    api_host: str = Field(default="127.0.0.1", description="the completion API; loopback only")
    api_port: int = Field(default=8081, gt=0, lt=65536)
    login_dir: Path = Field(default=Path("/var/run/claude-login"), description="the mounted login Secret")
    auth_refresh_seconds: float = Field(default=60.0, gt=0)
    pod_name: str | None = Field(default=None, description="for the login hint in errors")
    namespace: str | None = Field(default=None, description="for the login hint in errors")

    @field_validator("api_host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        # The completion API spends the login: only containers of the same pod may reach it.
        if value != "localhost" and not ipaddress.ip_address(value).is_loopback:
            raise ValueError(f"the completion API must listen on a loopback address, not {value}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        return cls.model_validate({field: env[var] for field, var in _VARIABLES.items() if env.get(var)})
