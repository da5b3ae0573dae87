"""Pure: the SDK options that make Claude Code a plain chat model for one request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from claude_agent_sdk import ClaudeAgentOptions

from ..auth.api_keys import CLEARED_API_KEY_ENV
from ..protocol import CompletionRequest
from .settings import EngineSettings


def render_env(request: CompletionRequest, settings: EngineSettings) -> dict[str, str]:
    """Variables set for the CLI on top of the inherited environment (which the SDK passes on)."""
    env = dict(CLEARED_API_KEY_ENV)
    if settings.config_dir is not None:
        env["CLAUDE_CONFIG_DIR"] = str(settings.config_dir)
    if settings.oauth_token is not None:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = settings.oauth_token.get_secret_value()
    if request.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(request.max_tokens)
    return env


def render_options(
    request: CompletionRequest,
    settings: EngineSettings,
    *,
    cwd: Path,
    resume: str | None,
    stderr: Callable[[str], None],
) -> ClaudeAgentOptions:
    return ClaudeAgentOptions(
        # tools=[] removes every tool; allowed_tools=[] would only stop auto-approving them.
        tools=[],
        mcp_servers={},
        strict_mcp_config=True,
        setting_sources=[],
        max_turns=1,
        include_partial_messages=True,
        model=request.model,
        # A string replaces Claude Code's own system prompt; an empty one keeps the model unprompted.
        system_prompt=request.system or "",
        cwd=cwd,
        cli_path=settings.cli_path,
        resume=resume,
        env=render_env(request, settings),
        # The transcript of a request is throw-away; only a resumed history file is read.
        extra_args={"no-session-persistence": None},
        stderr=stderr,
    )
