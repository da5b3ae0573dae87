"""Pure translation between OpenAI chat requests and the protocol's plain conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import ChatTurn, CompletionRequest

PROVIDER_PREFIX = "claude-code/"

# OpenAI parameters a plain chat turn through Claude Code cannot honour: refusing them beats
# silently answering something other than what was asked.
_UNSUPPORTED_PARAMS = ("tools", "functions", "tool_choice", "response_format", "n")


def _bad(message: str) -> ClaudeCodeError:
    return ClaudeCodeError(ErrorKind.BAD_REQUEST, message)


def _text(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise _bad(f"messages[{index}]: only text content is supported, not {kind!r}.")
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise _bad(f"messages[{index}]: content must be a string or a list of text parts.")


def to_request(model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> CompletionRequest:
    """The protocol request for an OpenAI-style call; ``ClaudeCodeError`` (400) when it has no faithful form."""
    for name in _UNSUPPORTED_PARAMS:
        value = params.get(name)
        if value not in (None, [], 1):
            raise _bad(f"{name!r} is not supported: this model is plain chat (no tools, one choice).")
    system: list[str] = []
    turns: list[ChatTurn] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content"), index))
        elif role in ("user", "assistant"):
            if message.get("tool_calls") or message.get("function_call"):
                raise _bad(f"messages[{index}]: tool calls are not supported by this plain chat model.")
            turns.append(ChatTurn(role=role, content=_text(message.get("content"), index)))
        else:
            raise _bad(f"messages[{index}]: role {role!r} is not supported (use system, user or assistant).")
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
    try:
        return CompletionRequest(
            model=model.removeprefix(PROVIDER_PREFIX),
            system="\n\n".join(system) or None,
            messages=turns,
            max_tokens=max_tokens,
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in error.errors())
        raise _bad(f"Invalid chat request: {problems}.") from None
