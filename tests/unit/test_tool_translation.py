"""OpenAI function calling as protocol values and CLI frames, and the model's calls as OpenAI tool calls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from claude_agent_sdk import AssistantMessage, StreamEvent, TextBlock, ToolUseBlock

from claude_code_provider.engine.frames import Frame, answered_calls, split_frames
from claude_code_provider.engine.options import SessionKey
from claude_code_provider.engine.tool_calls import ToolCallStream, render_tool_options, render_tool_specs
from claude_code_provider.errors import ClaudeCodeError
from claude_code_provider.llm.tools import to_message_tool_calls, to_tool_call_chunk
from claude_code_provider.llm.translate import derive_unsupported, to_request
from claude_code_provider.protocol import Thinking, ToolArguments, ToolCallStart

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather now.", "parameters": SCHEMA}}
CALLS = [
    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
    {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
]
LOOP: Any = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Oslo and Rome?"},
    {"role": "assistant", "content": "Checking both.", "tool_calls": CALLS},
    {"role": "tool", "tool_call_id": "call_a", "content": "Snow"},
    {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "Sun"}]},
]


def bad(messages: Any, params: dict[str, Any]) -> str:
    with pytest.raises(ClaudeCodeError) as caught:
        to_request("claude-code/sonnet", messages, params)
    assert caught.value.status == 400
    return caught.value.message


def test_tools_reach_the_request_with_description_and_schema_unchanged() -> None:
    request = to_request("claude-code/sonnet", [{"role": "user", "content": "hi"}], {"tools": [WEATHER]})

    assert [tool.model_dump() for tool in request.tools] == [
        {"name": "get_weather", "description": "Weather now.", "parameters": SCHEMA}
    ]


def test_a_tool_without_parameters_takes_no_arguments() -> None:
    tool = {"type": "function", "function": {"name": "now"}}
    request = to_request("sonnet", [{"role": "user", "content": "hi"}], {"tools": [tool]})

    assert request.tools[0].parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("params", "unsupported"),
    [
        ({"tools": [WEATHER], "tool_choice": "auto", "parallel_tool_calls": True}, []),
        ({"tool_choice": "required"}, ["tool_choice"]),
        ({"tool_choice": "none"}, ["tool_choice"]),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, ["tool_choice"]),
        ({"parallel_tool_calls": False}, ["parallel_tool_calls"]),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, ["tools[0].type"]),
        (
            {"tools": [WEATHER, {**WEATHER, "function": {**WEATHER["function"], "strict": True}}]},
            ["tools[1].function.strict"],
        ),
        ({"functions": [WEATHER["function"]], "function_call": "auto"}, ["function_call", "functions"]),
        # extra_body is where a client's extra parameters travel; it is nothing unsupported of its own.
        ({"extra_body": {"user": "u-1", "parallel_tool_calls": True}}, []),
        ({"extra_body": {"parallel_tool_calls": False}}, ["parallel_tool_calls"]),
    ],
)
def test_tool_parameters_that_cannot_be_honoured_are_named(params: dict[str, Any], unsupported: list[str]) -> None:
    assert derive_unsupported(params) == unsupported


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        (
            [{"type": "function", "function": {"parameters": SCHEMA}}],
            "tools[0].function.name: every tool needs a name.",
        ),
        (
            [{"type": "function", "function": {"name": "f", "parameters": "object"}}],
            "tools[0].function.parameters: the parameters of tool 'f' must be a JSON Schema object.",
        ),
        (
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}],
            'tools[0].function.parameters: the schema of tool \'f\' must have "type": "object".',
        ),
        (
            [WEATHER, WEATHER],
            "tools[1].function.name: the name 'get_weather' is used by two tools; tool names must be unique.",
        ),
        (
            [{"type": "function", "function": {"name": "n" * 57}}],
            f"tools[0].function.name: {'n' * 57!r} is 57 characters; Claude Code offers client tools as "
            "'mcp__t__<name>' and the API allows 64 characters, so at most 56 are left.",
        ),
        (
            [{"type": "function", "function": {"name": "get.weather"}}],
            "tools[0].function.name: 'get.weather' may contain only letters, digits, '_' and '-'.",
        ),
    ],
)
def test_bad_tools_are_refused_naming_the_tool(tools: list[dict[str, Any]], message: str) -> None:
    assert bad([{"role": "user", "content": "hi"}], {"tools": tools}) == message


def test_a_name_of_56_characters_fits() -> None:
    request = to_request(
        "sonnet", [{"role": "user", "content": "hi"}], {"tools": [{"type": "function", "function": {"name": "n" * 56}}]}
    )
    assert request.tools[0].name == "n" * 56


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [*LOOP[:3], {"role": "tool", "tool_call_id": "call_z", "content": "?"}],
            "messages[3].tool_call_id: 'call_z' matches no tool call of an earlier message.",
        ),
        (
            [*LOOP, {"role": "tool", "tool_call_id": "call_a", "content": "again"}],
            "messages[5].tool_call_id: the call 'call_a' was already answered.",
        ),
        (
            [
                LOOP[1],
                {
                    "role": "assistant",
                    "tool_calls": [{**CALLS[0], "function": {"name": "get_weather", "arguments": "[1]"}}],
                },
            ],
            "messages[1].tool_calls[0].function.arguments: the arguments of 'call_a' must be the JSON text of "
            "an object.",
        ),
        (
            [LOOP[1], {"role": "assistant", "tool_calls": [{**CALLS[0], "id": ""}]}],
            "messages[1].tool_calls[0].id: every tool call needs an id.",
        ),
        (
            [*LOOP[:4], {"role": "user", "content": "and?"}],
            "messages[2].tool_calls: the call 'call_b' has no tool message with its result before messages[4].",
        ),
    ],
)
def test_bad_tool_history_is_refused_naming_the_message(messages: Any, message: str) -> None:
    assert bad(messages, {"tools": [WEATHER]}) == message


def test_a_tool_loop_becomes_tool_use_and_tool_result_blocks_in_order() -> None:
    request = to_request("sonnet", LOOP, {"tools": [WEATHER]})

    history, prompt = split_frames(request)

    assert history == [
        Frame("user", "Weather in Oslo and Rome?"),
        Frame(
            "assistant",
            [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "call_a", "name": "mcp__t__get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "call_b", "name": "mcp__t__get_weather", "input": {"city": "Rome"}},
            ],
            in_tool_loop=True,
        ),
    ]
    assert prompt == Frame(
        "user",
        [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "Snow"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "Sun"},
        ],
    )
    assert answered_calls(prompt) == frozenset({"call_a", "call_b"})
    assert request.system == "Be brief."


def test_results_then_user_text_are_one_user_message() -> None:
    request = to_request("sonnet", [*LOOP, {"role": "user", "content": "Thanks; which is warmer?"}], {})

    _, prompt = split_frames(request)

    assert prompt == Frame(
        "user",
        [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "Snow"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "Sun"},
            {"type": "text", "text": "Thanks; which is warmer?"},
        ],
    )


def test_the_tool_set_is_one_key_whatever_the_order_of_fields() -> None:
    one = to_request("sonnet", [{"role": "user", "content": "hi"}], {"tools": [WEATHER]})
    two = to_request(
        "sonnet",
        [{"role": "user", "content": "hi"}],
        {
            "tools": [
                {
                    "function": {"parameters": SCHEMA, "description": "Weather now.", "name": "get_weather"},
                    "type": "function",
                }
            ]
        },
    )
    assert render_tool_specs(one.tools) == render_tool_specs(two.tools)
    assert render_tool_specs([]) is None


def test_the_cli_is_offered_the_tools_under_the_short_prefix_and_defers_every_call() -> None:
    request = to_request("sonnet", [{"role": "user", "content": "hi"}], {"tools": [WEATHER]})
    tools_json = render_tool_specs(request.tools)
    assert tools_json is not None

    options = render_tool_options(tools_json)

    assert options["allowed_tools"] == ["mcp__t__get_weather"]
    assert list(options["mcp_servers"]) == ["t"]
    assert list(options["hooks"]) == ["PreToolUse"]
    (matcher,) = options["hooks"]["PreToolUse"]
    (hook,) = matcher.hooks
    decision = asyncio.run(hook({"hook_event_name": "PreToolUse"}, "toolu_1", {"signal": None}))  # type: ignore[arg-type]
    # Deferred to the client: the CLI runs nothing and the turn ends (no deny fed back to the model).
    assert decision == {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "defer"}}


SIGNED = [{"type": "thinking", "thinking": "Two lookups.", "signature": "EqSig"}]
ENABLED = {"thinking": {"type": "enabled", "budget_tokens": 2048}}


@pytest.mark.parametrize(
    ("messages", "params", "thinking", "no_thinking"),
    [
        (LOOP, {}, None, True),
        (LOOP, ENABLED, None, True),
        # The calling message starts with its signed thinking, fed on with the resolved model: thinking stays.
        (
            [*LOOP[:2], {**LOOP[2], "thinking_blocks": SIGNED}, *LOOP[3:]],
            ENABLED,
            Thinking(type="enabled", budget_tokens=2048),
            False,
        ),
        ([*LOOP, {"role": "user", "content": "And Paris?"}], {}, None, False),
        ([{"role": "user", "content": "hi"}], ENABLED, Thinking(type="enabled", budget_tokens=2048), False),
    ],
    ids=[
        "results-without-thinking",
        "results-without-thinking-asked-enabled",
        "results-with-signed-thinking-asked-enabled",
        "new-user-turn",
        "first-question",
    ],
)
def test_a_process_fed_a_round_of_tool_results_thinks_only_with_the_calling_messages_thinking(
    messages: Any, params: dict[str, Any], thinking: Thinking | None, no_thinking: bool
) -> None:
    request = to_request("sonnet", messages, {"tools": [WEATHER], **params})

    fresh = SessionKey.fresh(request)

    assert (fresh.thinking, fresh.no_thinking) == (thinking, no_thinking)
    # Everything else is as asked, and so is the key of a process that made the calls itself.
    held = SessionKey.of(request)
    assert (fresh.model, fresh.system, fresh.tools, fresh.effort) == (held.model, held.system, held.tools, held.effort)
    assert (held.thinking, held.no_thinking) == (request.thinking, False)


def stream(event: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=event)


def test_streamed_tool_use_blocks_become_starts_and_argument_fragments() -> None:
    calls = ToolCallStream()
    events = [
        stream({"type": "message_start", "message": {}}),
        stream({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        stream({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hm."}}),
        stream(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "mcp__t__get_weather", "input": {}},
            }
        ),
        stream({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        stream(
            {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}}
        ),
        AssistantMessage(
            content=[ToolUseBlock(id="toolu_1", name="mcp__t__get_weather", input={"city": "Oslo"})], model="m"
        ),
        stream(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": 'ty":"Oslo"}'},
            }
        ),
        stream(
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_2", "name": "mcp__t__now", "input": {}},
            }
        ),
    ]

    out = [e for message in events for e in calls.observe(message)]

    assert out == [
        ToolCallStart(index=0, id="toolu_1", name="get_weather"),
        ToolArguments(index=0, fragment='{"ci'),
        ToolArguments(index=0, fragment='ty":"Oslo"}'),
        ToolCallStart(index=1, id="toolu_2", name="now"),
    ]
    assert calls.ids == ["toolu_1", "toolu_2"]


def test_a_call_that_came_without_stream_events_is_taken_whole_from_the_message() -> None:
    calls = ToolCallStream()
    message = AssistantMessage(
        content=[
            TextBlock(text="Hm."),
            ToolUseBlock(id="toolu_9", name="mcp__t__get_weather", input={"city": "Bergen"}),
        ],
        model="m",
    )

    assert calls.observe(message) == [
        ToolCallStart(index=0, id="toolu_9", name="get_weather"),
        ToolArguments(index=0, fragment='{"city": "Bergen"}'),
    ]


def test_tool_events_become_openai_tool_calls_whole_and_streamed() -> None:
    events = [
        ToolCallStart(index=0, id="toolu_1", name="get_weather"),
        ToolArguments(index=0, fragment='{"city":'),
        ToolCallStart(index=1, id="toolu_2", name="now"),
        ToolArguments(index=0, fragment='"Oslo"}'),
    ]

    whole = to_message_tool_calls(events)

    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in whole] == [
        ("toolu_1", "function", "get_weather", '{"city":"Oslo"}'),
        ("toolu_2", "function", "now", "{}"),
    ]
    assert to_tool_call_chunk(events[0]) == {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
        "index": 0,
    }
    assert to_tool_call_chunk(events[1]) == {
        "id": None,
        "type": "function",
        "function": {"name": None, "arguments": '{"city":'},
        "index": 0,
    }
