"""Pure: the SDK options that make Claude Code a plain chat model for one request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from claude_agent_sdk import ClaudeAgentOptions

from ..protocol import CompletionRequest, Effort, Thinking
from .environment import derive_sdk_env
from .settings import EngineSettings
from .tool_calls import render_tool_options, render_tool_specs


@dataclass(frozen=True)
class SessionKey:
    """What shapes a CLI process and is fixed when it starts; requests with equal keys can share a warm pool."""

    model: str
    system: str | None = None
    max_tokens: int | None = None
    tools: str | None = None  # the client's tools (``render_tool_specs``), offered from start-up
    effort: Effort | None = None
    thinking: Thinking | None = None
    # No thinking at all, whatever the model (the CLI keeps adaptive thinking on models that take no
    # `--thinking disabled`; CLAUDE_CODE_DISABLE_THINKING leaves the field out of the request).
    no_thinking: bool = False

    @classmethod
    def of(cls, request: CompletionRequest) -> SessionKey:
        return cls(
            model=request.model,
            system=request.system,
            max_tokens=request.max_tokens,
            tools=render_tool_specs(request.tools),
            effort=request.effort,
            thinking=request.thinking,
        )

    @classmethod
    def fresh(cls, request: CompletionRequest) -> SessionKey:
        """The options for a process that does not hold the request's conversation (it is fed the history):
        those asked for, but no thinking for a round of tool results whose calling message comes without
        its thinking. With thinking on, the API refuses such a round unless the message that made the calls
        starts with its signed thinking block, and most clients never send it back."""
        key = cls.of(request)
        if request.messages[-1].role != "tool":
            return key
        calling = next((m for m in reversed(request.messages) if m.role == "assistant"), None)
        return key if calling is not None and calling.thinking else replace(key, thinking=None, no_thinking=True)

    def parked(self) -> SessionKey:
        """What a parked process must be started with; the system prompt comes with its claim."""
        return replace(self, system=None)


def render_env(key: SessionKey, settings: EngineSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """``options.env`` for the CLI: the allowed part of ``environ`` (every other variable blanked, as the SDK
    merges the whole environment under it) and what this request and the login set."""
    env: dict[str, str] = {}
    if settings.config_dir is not None:
        env["CLAUDE_CONFIG_DIR"] = str(settings.config_dir)
    if settings.oauth_token is not None:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = settings.oauth_token.get_secret_value()
    if key.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(key.max_tokens)
    # Every tool offered up front, as the client listed them (no deferred-tool placeholder to search with).
    env["ENABLE_TOOL_SEARCH"] = "false"
    if key.no_thinking:
        env["CLAUDE_CODE_DISABLE_THINKING"] = "1"
    return derive_sdk_env(environ, env)


def render_options(
    key: SessionKey,
    settings: EngineSettings,
    *,
    cwd: Path,
    resume: str | None,
    park: bool = False,
    stderr: Callable[[str], None],
    environ: Mapping[str, str],
) -> ClaudeAgentOptions:
    # The client's tools, if any, through an in-process MCP server whose calls are deferred to the client.
    client_tools = render_tool_options(key.tools) if key.tools else {"mcp_servers": {}}
    return ClaudeAgentOptions(
        # tools=[] removes every built-in tool; allowed_tools=[] would only stop auto-approving them.
        tools=[],
        **client_tools,
        strict_mcp_config=True,
        setting_sources=[],
        max_turns=1,
        include_partial_messages=True,
        # The prompt is the client's text, never a slash command or an `@path` mention to expand (which
        # would run a command instead of asking the model, or read a local file into the prompt).
        verbatim_prompts=True,
        model=key.model,
        # A string replaces Claude Code's own system prompt; an empty one keeps the model unprompted.
        system_prompt=key.system or "",
        cwd=cwd,
        cli_path=settings.cli_path,
        resume=resume,
        env=render_env(key, settings, environ),
        # The CLI sends what the model takes: an effort to adaptive-thinking models, a budget to older ones.
        effort=key.effort,
        thinking=key.thinking.model_dump(exclude_none=True) if key.thinking is not None else None,  # type: ignore[arg-type]
        # The transcript of a request is throw-away; only a resumed history file is read. A parked process
        # waits for a claim_session that gives it its system prompt (the one above is then replaced).
        extra_args={"no-session-persistence": None, **({"await-claim": None} if park else {})},
        stderr=stderr,
    )
