"""The model's thinking, read from the CLI's stream events: deltas apart from the answer, then whole blocks."""

from __future__ import annotations

from typing import Any

from claude_agent_sdk import StreamEvent

from claude_code_provider.engine.translate import TurnState
from claude_code_provider.protocol import ReasoningDelta, TextDelta, ThinkingBlock


def stream(event: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=event)


def delta(index: int, **body: str) -> StreamEvent:
    return stream({"type": "content_block_delta", "index": index, "delta": body})


def test_thinking_is_streamed_apart_and_ends_as_a_whole_signed_block() -> None:
    state = TurnState()
    events = [
        stream({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        delta(0, type="thinking_delta", thinking="Two plus "),
        delta(0, type="thinking_delta", thinking="two."),
        delta(0, type="signature_delta", signature="EqQB"),
        stream({"type": "content_block_stop", "index": 0}),
        stream(
            {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "Zm9v"}}
        ),
        stream({"type": "content_block_stop", "index": 1}),
        stream({"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
        delta(2, type="text_delta", text="Four."),
        stream({"type": "content_block_stop", "index": 2}),
    ]

    observed = [state.observe(event) for event in events]

    assert observed == [
        None,
        ReasoningDelta(text="Two plus "),
        ReasoningDelta(text="two."),
        None,
        ThinkingBlock(thinking="Two plus two.", signature="EqQB"),
        None,
        ThinkingBlock(kind="redacted_thinking", data="Zm9v"),
        None,
        TextDelta(text="Four."),
        None,
    ]
