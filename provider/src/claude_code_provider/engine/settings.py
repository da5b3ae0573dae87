"""What the engine needs to know about its environment, read once from environment variables."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..errors import LAPTOP_LOGIN_HINT


class EngineSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    cli_path: Path | None = Field(default=None, description="Claude Code CLI; None uses the SDK's bundled one")
    config_dir: Path | None = Field(default=None, description="CLAUDE_CONFIG_DIR; None is the CLI's ~/.claude")
    scratch_root: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()),
        description="where the engine makes its private scratch directory (mkdtemp, 0700)",
    )
    oauth_token: SecretStr | None = Field(default=None, description="a `claude setup-token` token")
    request_timeout: float = Field(default=600.0, gt=0, description="seconds for a whole request")
    idle_timeout: float = Field(default=120.0, gt=0, description="seconds without any message from the CLI")
    login_hint: str = Field(default=LAPTOP_LOGIN_HINT, description="how to log in where this runs")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field, variable in (
            ("cli_path", "CLAUDE_CODE_CLI_PATH"),
            ("config_dir", "CLAUDE_CONFIG_DIR"),
            ("scratch_root", "CLAUDE_CODE_SCRATCH_DIR"),
            ("request_timeout", "CLAUDE_CODE_REQUEST_TIMEOUT"),
            ("idle_timeout", "CLAUDE_CODE_IDLE_TIMEOUT"),
        ):
            if env.get(variable):
                values[field] = env[variable]
        return cls.model_validate(values)
