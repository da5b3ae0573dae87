"""OpenAI chat requests become the protocol's plain conversation, or a clear 400."""

from __future__ import annotations

from typing import Any

import pytest

from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.llm.translate import to_request


def refused(messages: list[dict[str, Any]], params: dict[str, Any] | None = None) -> ClaudeCodeError:
    with pytest.raises(ClaudeCodeError) as caught:
        to_request("claude-code/claude-sonnet-4-5", messages, params or {})
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert caught.value.status == 400
    return caught.value


def test_system_and_developer_messages_are_joined_into_the_system_prompt() -> None:
    request = to_request(
        "claude-sonnet-4-5",
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "hi"},
        ],
        {},
    )
    assert request.system == "Be brief.\n\nAnswer in French."
    assert [(t.role, t.content) for t in request.messages] == [("user", "hi")]


def test_without_system_messages_there_is_no_system_prompt() -> None:
    request = to_request("claude-sonnet-4-5", [{"role": "user", "content": "hi"}], {})
    assert request.system is None


def test_multi_turn_history_is_kept_in_order() -> None:
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
        {"role": "assistant", "content": "four"},
        {"role": "user", "content": "five"},
    ]
    request = to_request("claude-sonnet-4-5", messages, {})
    assert [(t.role, t.content) for t in request.messages] == [(m["role"], m["content"]) for m in messages]
    assert request.prompt == "five"
    assert [t.content for t in request.history] == ["one", "two", "three", "four"]


def test_list_of_text_parts_is_joined() -> None:
    request = to_request(
        "claude-sonnet-4-5",
        [
            {"role": "system", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
            {"role": "user", "content": [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]},
        ],
        {},
    )
    assert request.system == "Be brief."
    assert request.prompt == "Hello, world"


def test_parts_other_than_text_and_images_are_refused() -> None:
    error = refused(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                ],
            }
        ]
    )
    assert "messages[0]" in error.message
    assert "input_audio" in error.message
    assert "only text" in error.message


def test_the_legacy_function_role_is_refused() -> None:
    error = refused(
        [
            {"role": "user", "content": "hi"},
            {"role": "function", "content": "42", "name": "f"},
            {"role": "user", "content": "and?"},
        ]
    )
    assert "messages[1]: role 'function' is not supported (use system, user, assistant or tool)." in error.message


def test_a_tool_call_left_without_its_result_is_refused() -> None:
    error = refused(
        [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                ],
            },
            {"role": "user", "content": "well?"},
        ]
    )
    assert (
        error.message
        == "messages[1].tool_calls: the call 'call_1' has no tool message with its result before messages[2]."
    )


UNSUPPORTED = [
    ("functions", [{"name": "f", "parameters": {}}]),
    ("function_call", "auto"),
    ("tool_choice", "required"),
    ("tool_choice", "none"),
    ("parallel_tool_calls", False),
    ("response_format", {"type": "json_object"}),
    (
        "response_format",
        {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        },
    ),
    ("n", 2),
    ("temperature", 0.2),
    ("temperature", 0),
    ("top_p", 0.9),
    ("seed", 7),
    ("logprobs", True),
    ("presence_penalty", 0.5),
    ("logit_bias", {"50256": -100}),
]


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_unsupported_parameters_are_refused_by_name(name: str, value: object) -> None:
    error = refused([{"role": "user", "content": "hi"}], {name: value})
    assert repr(name) in error.message
    assert "does not support" in error.message
    assert "drop_params" in error.message


def test_unsupported_parameters_in_extra_body_are_refused_by_name() -> None:
    error = refused([{"role": "user", "content": "hi"}], {"extra_body": {"top_k": 5, "user": "u-1"}})
    # Only what it carries is named; extra_body itself is no parameter.
    assert "does not support the parameter(s) 'top_k':" in error.message


def test_every_unsupported_parameter_is_named() -> None:
    error = refused([{"role": "user", "content": "hi"}], {"temperature": 1, "seed": 2, "stop": "x"})
    assert "'seed', 'temperature'" in error.message


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_with_drop_params_unsupported_parameters_are_ignored(name: str, value: object) -> None:
    request = to_request("claude-sonnet-4-5", [{"role": "user", "content": "hi"}], {name: value}, drop_params=True)
    assert request.prompt == "hi"


@pytest.mark.parametrize(("value", "stops"), [("END", ["END"]), (["a", "", "b"], ["a", "b"]), (None, [])])
def test_stop_sequences_reach_the_request(value: object, stops: list[str]) -> None:
    assert to_request("claude-sonnet-4-5", [{"role": "user", "content": "hi"}], {"stop": value}).stop == stops


def test_a_stop_that_is_not_text_is_refused() -> None:
    assert "'stop'" in refused([{"role": "user", "content": "hi"}], {"stop": [1]}).message


@pytest.mark.parametrize(
    "params",
    [
        {"tools": []},
        {"n": 1},
        {"tools": None, "n": None},
        {"stream": True, "stream_options": {"include_usage": True}},
        {"max_retries": 0},
    ],
)
def test_harmless_defaults_of_unsupported_parameters_are_accepted(params: dict[str, Any]) -> None:
    request = to_request("claude-sonnet-4-5", [{"role": "user", "content": "hi"}], params)
    assert request.prompt == "hi"


def test_max_completion_tokens_is_preferred_over_max_tokens() -> None:
    request = to_request(
        "claude-sonnet-4-5", [{"role": "user", "content": "hi"}], {"max_completion_tokens": 50, "max_tokens": 900}
    )
    assert request.max_tokens == 50


def test_max_tokens_is_used_alone() -> None:
    request = to_request("claude-sonnet-4-5", [{"role": "user", "content": "hi"}], {"max_tokens": 900})
    assert request.max_tokens == 900


def test_no_token_limit_by_default() -> None:
    assert to_request("claude-sonnet-4-5", [{"role": "user", "content": "hi"}], {}).max_tokens is None


def test_provider_prefix_is_stripped_from_the_model() -> None:
    assert to_request("claude-code/claude-opus-4-1", [{"role": "user", "content": "hi"}], {}).model == "claude-opus-4-1"
    assert to_request("claude-opus-4-1", [{"role": "user", "content": "hi"}], {}).model == "claude-opus-4-1"


def test_conversation_ending_with_an_assistant_message_is_refused_readably() -> None:
    error = refused([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    assert "last message must come from the user" in error.message
    # A readable sentence, not a pydantic dump.
    assert "pydantic" not in error.message
    assert "errors.pydantic.dev" not in error.message


def test_conversation_without_user_or_assistant_turns_is_refused() -> None:
    error = refused([{"role": "system", "content": "Be brief."}])
    assert "messages" in error.message


def test_non_positive_max_tokens_is_refused() -> None:
    error = refused([{"role": "user", "content": "hi"}], {"max_tokens": -5})
    assert "max_tokens" in error.message


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "broken \ud800 text"}],
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "\udfff"},
            {"role": "user", "content": "b"},
        ],
        [{"role": "system", "content": "\ud83d"}, {"role": "user", "content": "hi"}],
    ],
)
def test_a_lone_surrogate_anywhere_is_refused_as_invalid_text(messages: list[dict[str, Any]]) -> None:
    error = refused(messages)
    assert "lone surrogate" in error.message
