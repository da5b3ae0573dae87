"""Pure: the reasoning a request asks for (OpenAI's ``reasoning_effort``, Anthropic's ``thinking``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from litellm.types.llms.openai import ChatCompletionRedactedThinkingBlock, ChatCompletionThinkingBlock
from pydantic import ValidationError

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import Effort, Thinking, ThinkingBlock

REASONING_PARAMS = ("reasoning_effort", "thinking")
EFFORTS: tuple[str, ...] = get_args(Effort)


def to_effort(value: Any) -> Effort | None:
    """``reasoning_effort`` as the CLI's effort; a 400 naming the parameter for a value it has no form of."""
    if value is None:
        return None
    if value not in EFFORTS:
        raise ClaudeCodeError(
            ErrorKind.BAD_REQUEST,
            f"'reasoning_effort' must be one of {', '.join(map(repr, EFFORTS))}, not {value!r}.",
        )
    return value  # type: ignore[no-any-return]


def to_thinking(value: Any) -> Thinking | None:
    """Anthropic's ``thinking`` (``{"type": "enabled", "budget_tokens": N}`` or ``{"type": "disabled"}``)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ClaudeCodeError(ErrorKind.BAD_REQUEST, '\'thinking\' must be an object such as {"type": "disabled"}.')
    try:
        return Thinking.model_validate(dict(value))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'thinking'}: {e['msg']}" for e in error.errors())
        raise ClaudeCodeError(ErrorKind.BAD_REQUEST, f"'thinking' is invalid: {problems}.") from None


LiteLLMThinkingBlock = ChatCompletionThinkingBlock | ChatCompletionRedactedThinkingBlock


def to_thinking_blocks(blocks: list[ThinkingBlock]) -> list[LiteLLMThinkingBlock]:
    """LiteLLM's ``thinking_blocks`` (as its ``anthropic/`` provider returns them): signatures and redacted data
    kept, so a client can send them back with the history."""
    return [
        ChatCompletionThinkingBlock(type="thinking", thinking=block.thinking, signature=block.signature)
        if block.kind == "thinking"
        else ChatCompletionRedactedThinkingBlock(type="redacted_thinking", data=block.data or "")
        for block in blocks
    ]


def to_history_thinking(value: Any, index: int) -> list[ThinkingBlock]:
    """An assistant message's ``thinking_blocks`` (LiteLLM's convention) as sent back by a client; kept as is."""
    if not value:
        return []
    if not isinstance(value, list):
        raise ClaudeCodeError(ErrorKind.BAD_REQUEST, f"messages[{index}].thinking_blocks must be a list.")
    blocks: list[ThinkingBlock] = []
    for number, block in enumerate(value):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "thinking":
            blocks.append(ThinkingBlock(thinking=str(block.get("thinking") or ""), signature=block.get("signature")))
        elif kind == "redacted_thinking":
            blocks.append(ThinkingBlock(kind="redacted_thinking", data=str(block.get("data") or "")))
        else:
            raise ClaudeCodeError(
                ErrorKind.BAD_REQUEST,
                f"messages[{index}].thinking_blocks[{number}] must be a 'thinking' or 'redacted_thinking' block.",
            )
    return blocks
