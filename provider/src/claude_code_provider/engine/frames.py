"""Pure: a request's conversation as the input frames a CLI process takes (``Session.feed`` and ``send``).

A plain conversation is text turns, one frame each. A conversation with tools is grouped into Anthropic
messages: an assistant message's text and ``tool_use`` blocks (ids kept, names as the model was offered
them), and the user side's ``tool_result`` blocks (text content) and text, in order, consecutive turns of
one side merged into one message as the API wants them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import TOOL_NAME_PREFIX, ChatTurn, CompletionRequest
from .history import to_assistant_content, to_user_content

Content = str | list[dict[str, Any]]


@dataclass(frozen=True)
class Frame:
    role: Literal["user", "assistant"]
    content: Content
    # An assistant message of a tool loop, whose thinking the model needs back before the calls it led to: it is
    # fed as a message of the model the CLI calls, the only one whose thinking the CLI keeps (``Session.feed``).
    in_tool_loop: bool = False


def uses_tools(request: CompletionRequest) -> bool:
    """Whether the request offers tools or its history calls them (then it is always fed as frames)."""
    return bool(request.tools) or any(turn.tool_calls or turn.role == "tool" for turn in request.messages)


def _blocks(turn: ChatTurn) -> list[dict[str, Any]]:
    if turn.role == "tool":
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": turn.tool_call_id}
        if turn.content:
            block["content"] = turn.content
        return [block]
    if turn.role == "user":
        content = to_user_content(turn)
        return [{"type": "text", "text": content}] if isinstance(content, str) else content
    # An assistant turn's thinking (signatures kept) comes first, its text only when it said something.
    blocks = [block for block in to_assistant_content(turn) if block["type"] != "text" or turn.content]
    for call in turn.tool_calls:
        name = TOOL_NAME_PREFIX + call.name
        blocks.append({"type": "tool_use", "id": call.id, "name": name, "input": json.loads(call.arguments)})
    return blocks


def to_frames(turns: list[ChatTurn]) -> list[Frame]:
    """Consecutive turns of one side as one message; a lone user text stays a plain string."""
    groups: list[tuple[Literal["user", "assistant"], list[ChatTurn]]] = []
    for turn in turns:
        side: Literal["user", "assistant"] = "assistant" if turn.role == "assistant" else "user"
        if groups and groups[-1][0] == side:
            groups[-1][1].append(turn)
        else:
            groups.append((side, [turn]))
    frames = []
    for side, members in groups:
        if side == "user" and len(members) == 1 and members[0].role == "user":
            frames.append(Frame("user", to_user_content(members[0])))
        else:
            frames.append(Frame(side, [block for turn in members for block in _blocks(turn)], side == "assistant"))
    return frames


def split_frames(request: CompletionRequest) -> tuple[list[Frame], Frame]:
    """The earlier messages to feed and the last (user side) one to send; 400 when the conversation does
    not begin with the user, as the API wants it."""
    if uses_tools(request):
        frames = to_frames(request.messages)
    else:
        frames = [
            Frame("user", to_user_content(turn))
            if turn.role == "user"
            else Frame("assistant", to_assistant_content(turn))
            for turn in request.messages
            if turn.role != "tool"
        ]
    if frames[0].role != "user":
        raise ClaudeCodeError(ErrorKind.BAD_REQUEST, "messages: a conversation must begin with a user message.")
    return frames[:-1], frames[-1]


def answered_calls(prompt: Frame) -> frozenset[str]:
    """The ids of the calls whose results the message to send carries."""
    if isinstance(prompt.content, str):
        return frozenset()
    return frozenset(b["tool_use_id"] for b in prompt.content if b.get("type") == "tool_result")
