"""The client's tools in a CLI process, and the model's calls of them as protocol events.

The tools reach the model through an in-process MCP server (``t``, so the CLI names them
``mcp__t__<name>``) with their description and schema as given; no built-in tool is offered, and tool
search is off so every tool is offered up front. A PreToolUse hook defers every call: the CLI runs
nothing, the run ends after the one model request, and the calls are the client's to execute. Their
results come back as ``tool_result`` blocks in the next request.
"""

from __future__ import annotations

import json
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    McpSdkServerConfig,
    SdkMcpTool,
    StreamEvent,
    ToolUseBlock,
    create_sdk_mcp_server,
)

from ..protocol import TOOL_NAME_PREFIX, ToolArguments, ToolCallStart, ToolSpec

SERVER = TOOL_NAME_PREFIX.removeprefix("mcp__").removesuffix("__")


def render_tool_specs(tools: list[ToolSpec]) -> str | None:
    """Pure: the canonical text of a tool set (part of a process's key), None for none."""
    if not tools:
        return None
    return json.dumps([tool.model_dump() for tool in tools], sort_keys=True, separators=(",", ":"))


async def _never_run(arguments: dict[str, Any]) -> dict[str, Any]:
    # The PreToolUse hook defers every call before it would get here.
    return {"content": [{"type": "text", "text": "Not run: the client runs its own tools."}], "is_error": True}


async def _defer(hook_input: HookInput, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "defer"}}


def render_tool_options(tools_json: str) -> dict[str, Any]:
    """The ``ClaudeAgentOptions`` fields that offer the tools of ``render_tool_specs`` and defer their calls."""
    specs = [ToolSpec.model_validate(spec) for spec in json.loads(tools_json)]
    tools = [SdkMcpTool(spec.name, spec.description, spec.parameters, _never_run) for spec in specs]
    server: McpSdkServerConfig = create_sdk_mcp_server(SERVER, tools=tools)
    return {
        "mcp_servers": {SERVER: server},
        "allowed_tools": [TOOL_NAME_PREFIX + spec.name for spec in specs],
        "hooks": {"PreToolUse": [HookMatcher(hooks=[_defer])]},
    }


class ToolCallStream:
    """The model's tool calls, as they stream: a start per ``tool_use`` block (in order, the prefix
    stripped), then its ``input_json_delta`` fragments. A call that came without stream events (the CLI's
    non-streaming fallback) is taken whole from the assistant message."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._by_block: dict[int, int] = {}  # content block index -> call index

    def observe(self, message: object) -> list[ToolCallStart | ToolArguments]:
        if isinstance(message, StreamEvent):
            return self._observe_stream(message.event)
        if isinstance(message, AssistantMessage):
            events: list[ToolCallStart | ToolArguments] = []
            for block in message.content:
                if isinstance(block, ToolUseBlock) and block.id not in self.ids:
                    index = self._start(block.id)
                    events.append(ToolCallStart(index=index, id=block.id, name=_client_name(block.name)))
                    events.append(ToolArguments(index=index, fragment=json.dumps(block.input, ensure_ascii=False)))
            return events
        return []

    def _start(self, call_id: str) -> int:
        self.ids.append(call_id)
        return len(self.ids) - 1

    def _observe_stream(self, event: dict[str, Any]) -> list[ToolCallStart | ToolArguments]:
        kind = event.get("type")
        if kind == "message_start":
            self._by_block = {}  # block indexes count from 0 in every model message
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use" and isinstance(block.get("id"), str):
                index = self._by_block[event.get("index", -1)] = self._start(block["id"])
                return [ToolCallStart(index=index, id=block["id"], name=_client_name(str(block.get("name"))))]
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            call = self._by_block.get(event.get("index", -1))
            if call is not None and delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                return [ToolArguments(index=call, fragment=delta["partial_json"])]
        return []


def _client_name(name: str) -> str:
    return name.removeprefix(TOOL_NAME_PREFIX)
