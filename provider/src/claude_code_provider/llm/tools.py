"""Pure: OpenAI function calling (``tools``, ``tool_choice``, ``parallel_tool_calls``, and history with
``tool_calls`` and ``tool`` messages) as protocol values.

Only what Claude Code can send faithfully is honoured: the client's functions, each offered with its
description and JSON Schema unchanged, with the model free to call any, several or none (``tool_choice``
``auto``, parallel calls allowed). Everything else is named by ``derive_unsupported_tool_params`` (or, for
parameters this provider does not know, by the adapter) so it is refused (or ignored under ``drop_params``).
That includes the legacy ``functions``/``function_call``: a legacy answer carries one ``function_call``
only, and the model's parallel calls cannot be turned off faithfully (as ``parallel_tool_calls: false``
cannot), so a second call would have nowhere to go.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from litellm.types.llms.openai import ChatCompletionToolCallChunk, ChatCompletionToolCallFunctionChunk
from litellm.types.utils import ChatCompletionMessageToolCall, Function

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import MAX_TOOL_NAME, TOOL_NAME_PREFIX, ToolArguments, ToolCall, ToolCallStart, ToolSpec

TOOL_PARAMS = ("tools", "tool_choice", "parallel_tool_calls")
_NAME = re.compile(r"[a-zA-Z0-9_-]+")


def _bad(message: str) -> ClaudeCodeError:
    return ClaudeCodeError(ErrorKind.BAD_REQUEST, message)


def _get(value: Any, name: str) -> Any:
    """A field of a dict or of a client library's object (LiteLLM passes both)."""
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def derive_unsupported_tool_params(params: Mapping[str, Any]) -> list[str]:
    """The tool-calling parameters in ``params`` whose value asks for more than Claude Code can send: a
    forced or forbidden call (``tool_choice``/``function_call`` other than ``auto``), serial calls only
    (``parallel_tool_calls: false``), strict schemas (``tools[i].function.strict``), other tool types."""
    unsupported = []
    if params.get("tool_choice") not in (None, "auto"):
        unsupported.append("tool_choice")
    if params.get("parallel_tool_calls") not in (None, True):
        unsupported.append("parallel_tool_calls")
    for index, tool in enumerate(params.get("tools") or []):
        if _get(tool, "type") != "function":
            unsupported.append(f"tools[{index}].type")
        elif _get(_get(tool, "function"), "strict"):
            unsupported.append(f"tools[{index}].function.strict")
    return unsupported


def to_tool_specs(params: Mapping[str, Any]) -> list[ToolSpec]:
    """The client's functions; 400 naming the tool when one has no valid name, a schema that is not a JSON
    object schema, or a name another tool has."""
    tools = params.get("tools") or []
    entries = [
        (f"tools[{i}].function", _get(t, "function")) for i, t in enumerate(tools) if _get(t, "type") == "function"
    ]
    specs: list[ToolSpec] = []
    for where, function in entries:
        spec = _to_spec(where, function)
        if any(seen.name == spec.name for seen in specs):
            raise _bad(f"{where}.name: the name {spec.name!r} is used by two tools; tool names must be unique.")
        specs.append(spec)
    return specs


def _to_spec(where: str, function: Any) -> ToolSpec:
    name = _get(function, "name")
    if not isinstance(name, str) or not name:
        raise _bad(f"{where}.name: every tool needs a name.")
    if not _NAME.fullmatch(name):
        raise _bad(f"{where}.name: {name!r} may contain only letters, digits, '_' and '-'.")
    if len(name) > MAX_TOOL_NAME:
        raise _bad(
            f"{where}.name: {name!r} is {len(name)} characters; Claude Code offers client tools as "
            f"'{TOOL_NAME_PREFIX}<name>' and the API allows 64 characters, so at most {MAX_TOOL_NAME} are left."
        )
    description = _get(function, "description")
    if description is not None and not isinstance(description, str):
        raise _bad(f"{where}.description: the description of tool {name!r} must be a string.")
    schema = _get(function, "parameters")
    if schema is None:
        schema = {"type": "object", "properties": {}}  # OpenAI: no parameters means an empty parameter list
    if not isinstance(schema, Mapping):
        raise _bad(f"{where}.parameters: the parameters of tool {name!r} must be a JSON Schema object.")
    if schema.get("type") != "object":
        raise _bad(f'{where}.parameters: the schema of tool {name!r} must have "type": "object".')
    # Equivalent (an empty "properties" restricts nothing); the SDK reads a schema without it as a type map.
    schema = {**schema} if "properties" in schema else {**schema, "properties": {}}
    return ToolSpec(name=name, description=description or "", parameters=schema)


def to_tool_calls(index: int, message: Mapping[str, Any]) -> list[ToolCall]:
    """An assistant message's ``tool_calls``; 400 naming the message when a call has no id or name, or
    arguments that are not a JSON object's text."""
    if message.get("function_call"):
        raise _bad(f"messages[{index}].function_call: the legacy function_call is not supported; use tool_calls.")
    calls = []
    for position, call in enumerate(message.get("tool_calls") or []):
        where = f"messages[{index}].tool_calls[{position}]"
        function = _get(call, "function")
        call_id, name, arguments = _get(call, "id"), _get(function, "name"), _get(function, "arguments")
        if not isinstance(call_id, str) or not call_id:
            raise _bad(f"{where}.id: every tool call needs an id.")
        if not isinstance(name, str) or not name:
            raise _bad(f"{where}.function.name: every tool call needs the name of its function.")
        arguments = "{}" if arguments in (None, "") else arguments
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _bad(f"{where}.function.arguments: the arguments of {call_id!r} must be the JSON text of an object.")
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
    return calls


def check_tool_results(messages: Sequence[Mapping[str, Any]]) -> None:
    """400 naming the message when a ``tool`` message answers no call made earlier in the conversation or
    one already answered, or when a call is left without its result before the conversation goes on (as
    the API wants every call answered in the message after it)."""
    called: set[str] = set()
    answered: set[str] = set()
    open_calls: dict[str, int] = {}  # unanswered call id -> the index of the message that made it
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in called:
                raise _bad(f"messages[{index}].tool_call_id: {call_id!r} matches no tool call of an earlier message.")
            if call_id in answered:
                raise _bad(f"messages[{index}].tool_call_id: the call {call_id!r} was already answered.")
            answered.add(call_id)
            open_calls.pop(call_id, None)
            continue
        if open_calls and role not in ("system", "developer"):
            call_id, caller = next(iter(open_calls.items()))
            raise _bad(
                f"messages[{caller}].tool_calls: the call {call_id!r} has no tool message with its result "
                f"before messages[{index}]."
            )
        for call in message.get("tool_calls") or []:
            call_id = str(_get(call, "id"))
            called.add(call_id)
            open_calls[call_id] = index


def to_tool_call_chunk(event: ToolCallStart | ToolArguments) -> ChatCompletionToolCallChunk:
    """A streamed OpenAI tool-call delta: the call's start (id and name), or a fragment of its arguments."""
    if isinstance(event, ToolCallStart):
        start = ChatCompletionToolCallFunctionChunk(name=event.name, arguments="")
        return ChatCompletionToolCallChunk(id=event.id, type="function", function=start, index=event.index)
    fragment = ChatCompletionToolCallFunctionChunk(name=None, arguments=event.fragment)
    return ChatCompletionToolCallChunk(id=None, type="function", function=fragment, index=event.index)


def to_message_tool_calls(events: Sequence[ToolCallStart | ToolArguments]) -> list[ChatCompletionMessageToolCall]:
    """A whole answer's tool calls, in order, each with the JSON text of its arguments."""
    starts = [event for event in events if isinstance(event, ToolCallStart)]
    arguments = {start.index: "" for start in starts}
    for event in events:
        if isinstance(event, ToolArguments):
            arguments[event.index] += event.fragment
    return [
        ChatCompletionMessageToolCall(
            id=start.id, type="function", function=Function(name=start.name, arguments=arguments[start.index] or "{}")
        )
        for start in starts
    ]
