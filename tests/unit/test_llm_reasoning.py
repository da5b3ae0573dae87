"""What a request's reasoning settings become: the CLI's effort and thinking, or a 400 naming the parameter."""

from __future__ import annotations

import pytest

from claude_code_provider.engine.history import to_assistant_content
from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.llm.translate import to_request
from claude_code_provider.protocol import Thinking

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_reasoning_effort_becomes_the_effort(effort: str) -> None:
    assert to_request("claude-code/sonnet", HI, {"reasoning_effort": effort}).effort == effort


def test_thinking_from_the_body_or_extra_body_becomes_the_thinking() -> None:
    budget = {"type": "enabled", "budget_tokens": 2048}

    assert to_request("sonnet", HI, {"thinking": budget}).thinking == Thinking(type="enabled", budget_tokens=2048)
    assert to_request("sonnet", HI, {"extra_body": {"thinking": {"type": "disabled"}}}).thinking == Thinking(
        type="disabled"
    )


def test_no_reasoning_settings_leave_the_clis_defaults() -> None:
    request = to_request("sonnet", HI, {})

    assert request.effort is None
    assert request.thinking is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"reasoning_effort": "minimal"}, "'reasoning_effort' must be one of 'low', 'medium', 'high', not 'minimal'."),
        ({"thinking": "on"}, '\'thinking\' must be an object such as {"type": "disabled"}.'),
        ({"thinking": {"type": "enabled"}}, "'thinking' is invalid: "),
        ({"thinking": {"type": "disabled", "budget_tokens": 2048}}, "'thinking' is invalid: "),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "'thinking' is invalid: budget_tokens: "),
        ({"thinking": {"type": "sometimes"}}, "'thinking' is invalid: type: "),
    ],
)
def test_reasoning_settings_without_a_faithful_form_are_a_400_naming_them(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(ClaudeCodeError) as refused:
        to_request("sonnet", HI, params)

    assert refused.value.kind is ErrorKind.BAD_REQUEST
    assert refused.value.message.startswith(message)


def test_thinking_blocks_sent_back_in_history_keep_their_signatures_and_redacted_data() -> None:
    history = [
        {"role": "user", "content": "2+2?"},
        {
            "role": "assistant",
            "content": "4.",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "Two and two.", "signature": "EqQB"},
                {"type": "redacted_thinking", "data": "Zm9v"},
            ],
        },
        {"role": "user", "content": "3+3?"},
    ]

    turn = to_request("sonnet", history, {}).messages[1]

    assert to_assistant_content(turn) == [
        {"type": "thinking", "thinking": "Two and two.", "signature": "EqQB"},
        {"type": "redacted_thinking", "data": "Zm9v"},
        {"type": "text", "text": "4."},
    ]


def test_a_thinking_block_of_no_known_type_is_a_400_naming_it() -> None:
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b", "thinking_blocks": [{"type": "musing"}]},
        {"role": "user", "content": "c"},
    ]

    with pytest.raises(ClaudeCodeError) as refused:
        to_request("sonnet", history, {})

    assert refused.value.message == "messages[1].thinking_blocks[0] must be a 'thinking' or 'redacted_thinking' block."
