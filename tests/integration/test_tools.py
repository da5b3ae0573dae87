"""OpenAI function calling through the real LiteLLM proxy and the real CLI, in both provider modes: the
model is offered exactly the client's tools, its calls come back as ``tool_calls`` (streamed as they are
written), nothing runs, and the results go back to the model as real ``tool_result`` blocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply, ToolReply, ToolUse
from claude_code_devkit.stack import Proxy, Runtime

MODES = pytest.mark.parametrize("mode", ["", "remote/"], ids=["in-process", "runtime"])

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city"],
    "additionalProperties": False,
}
TIME_SCHEMA = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "The weather in a city now.", "parameters": WEATHER_SCHEMA},
    },
    {
        "type": "function",
        "function": {"name": "get_time", "description": "The time in a zone.", "parameters": TIME_SCHEMA},
    },
]
QUESTION: Any = [{"role": "user", "content": "Weather and time in Paris?"}]


def two_calls(ids: tuple[str, str] = ("toolu_01Weather", "toolu_01Time")) -> ToolReply:
    return ToolReply(
        [
            ToolUse("mcp__t__get_weather", {"city": "Paris"}, id=ids[0], pieces=['{"city": ', '"Par', 'is"}']),
            ToolUse("mcp__t__get_time", {"zone": "CET"}, id=ids[1], pieces=['{"zone"', ': "CET"}']),
        ],
        text="Let me look.",
    )


@MODES
def test_the_model_is_offered_exactly_the_clients_tools_and_its_calls_come_back(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(two_calls())

    reply = client.chat.completions.create(model=f"{mode}sonnet", messages=QUESTION, tools=TOOLS)

    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me look."
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []] == [
        ("toolu_01Weather", "function", "get_weather", '{"city": "Paris"}'),
        ("toolu_01Time", "function", "get_time", '{"zone": "CET"}'),
    ]
    fake.wait_quiet()
    # One model request: the CLI ran nothing and asked nothing more.
    assert len(fake.messages_requests) == 1
    offered = sorted(fake.messages_requests[0].tools or [], key=lambda t: t["name"])
    assert offered == [
        {"name": "mcp__t__get_time", "description": "The time in a zone.", "input_schema": TIME_SCHEMA},
        {"name": "mcp__t__get_weather", "description": "The weather in a city now.", "input_schema": WEATHER_SCHEMA},
    ]


@MODES
def test_streamed_tool_calls_arrive_as_the_models_argument_fragments(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(two_calls())

    chunks = list(
        client.chat.completions.create(
            model=f"{mode}sonnet",
            messages=QUESTION,
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    starts = [(d.index, d.id, d.function.name if d.function else None) for d in deltas if d.id]
    fragments = [(d.index, d.function.arguments) for d in deltas if d.function and d.function.arguments]
    assert text == "Let me look."
    assert starts == [(0, "toolu_01Weather", "get_weather"), (1, "toolu_01Time", "get_time")]
    assert fragments == [(0, '{"city": '), (0, '"Par'), (0, 'is"}'), (1, '{"zone"'), (1, ': "CET"}')]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert usage
    assert (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (10, 5)
    fake.wait_quiet()
    assert len(fake.messages_requests) == 1


def conversation_after_calls(weather: str, time: str, ids: tuple[str, str]) -> list[Any]:
    return [
        *QUESTION,
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": ids[0],
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": ids[1],
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"zone": "CET"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": ids[0], "content": weather},
        {"role": "tool", "tool_call_id": ids[1], "content": time},
    ]


def expected_after_calls(ids: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": ids[0], "name": "mcp__t__get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": ids[1], "name": "mcp__t__get_time", "input": {"zone": "CET"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": ids[0], "content": "Sunny, 21 C"},
                {"type": "tool_result", "tool_use_id": ids[1], "content": "14:05"},
            ],
        },
    ]


def without_cache_marks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation without the CLI's prompt-caching marks (``cache_control``), which say nothing of it."""
    text = json.dumps(messages)
    clean = json.loads(text)
    for message in clean:
        for block in message["content"] if isinstance(message["content"], list) else []:
            block.pop("cache_control", None)
    return clean


@MODES
@pytest.mark.parametrize("held", [True, False], ids=["same-process", "fresh-process"])
def test_tool_results_reach_the_model_as_real_blocks_in_one_request(
    mode: str, held: bool, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    # Call ids no other test uses: only this test's own first request can hold the conversation.
    ids = (f"toolu_01W{mode[:1]}{held:d}", f"toolu_01T{mode[:1]}{held:d}")
    if held:  # the process that made the calls is still there for their results
        fake.enqueue(two_calls(ids))
        client.chat.completions.create(model=f"{mode}sonnet", messages=QUESTION, tools=TOOLS)
        fake.wait_quiet()
        fake.clear()
    fake.enqueue(TextReply("Sunny and 14:05 in Paris."))

    reply = client.chat.completions.create(
        model=f"{mode}sonnet", messages=conversation_after_calls("Sunny, 21 C", "14:05", ids), tools=TOOLS
    )

    assert reply.choices[0].message.content == "Sunny and 14:05 in Paris."
    assert reply.choices[0].finish_reason == "stop"
    fake.wait_quiet()
    assert len(fake.messages_requests) == 1
    assert without_cache_marks(fake.messages_requests[0].chat_messages) == expected_after_calls(ids)


def status_of(client: openai.OpenAI, **params: Any) -> tuple[int, str]:
    try:
        client.chat.completions.create(model="sonnet", **{"messages": QUESTION, **params})
    except openai.APIStatusError as error:
        return error.status_code, str(error)
    return 200, ""


def weather(**function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA, **function}}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"tools": [{"type": "function", "function": {"parameters": TIME_SCHEMA}}]}, "tools[0].function.name"),
        ({"tools": [weather(parameters=["city"])]}, "tools[0].function.parameters"),
        ({"tools": [weather(parameters={"type": "string"})]}, "tools[0].function.parameters"),
        ({"tools": [weather(), weather()]}, "tools[1].function.name"),
        ({"tools": [weather(name="x" * 57)]}, "at most 56"),
        ({"tools": [weather(name="get weather")]}, "tools[0].function.name"),
        ({"tools": [weather(strict=True)]}, "tools[0].function.strict"),
        ({"tools": [weather()], "tool_choice": "required"}, "'tool_choice'"),
        (
            {"tools": [weather()], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            "'tool_choice'",
        ),
        ({"tools": [weather()], "parallel_tool_calls": False}, "'parallel_tool_calls'"),
        (
            {"messages": [*QUESTION, {"role": "tool", "tool_call_id": "call_nowhere", "content": "21 C"}]},
            "messages[1].tool_call_id",
        ),
        (
            {
                "messages": [
                    *QUESTION,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": "{city"},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call_1", "content": "21 C"},
                ]
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
    ],
    ids=[
        "no-name",
        "schema-not-object",
        "schema-not-object-type",
        "duplicate-names",
        "name-too-long-with-prefix",
        "name-with-space",
        "strict",
        "tool-choice-required",
        "tool-choice-named",
        "serial-calls",
        "result-for-no-call",
        "arguments-not-json",
    ],
)
def test_bad_tool_requests_get_a_400_naming_the_part_and_reach_no_model(
    params: dict[str, Any], named: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    status, message = status_of(client, **params)

    assert status == 400
    assert named in message
    assert fake.messages_requests == []


def test_a_fifty_round_agent_loop_is_served_warm_one_model_request_a_round(
    fake: FakeAnthropic, client: openai.OpenAI, runtimes: dict[str, Runtime]
) -> None:
    runtime = runtimes["remote"]
    before = {
        name: runtime.metric(name, **labels)
        for name, labels in [
            ("claude_code_request_paths_total", {"path": "continued"}),
            ("claude_code_tool_requests_total", {}),
            ("claude_code_tool_calls_total", {}),
        ]
    }
    rounds = 50
    fake.enqueue(
        *[
            ToolReply([ToolUse("mcp__t__get_time", {"zone": f"zone-secret-{n}"}, id=f"toolu_loop{n:02d}")])
            for n in range(rounds)
        ]
    )
    fake.enqueue(TextReply("Done."))
    messages: list[Any] = list(QUESTION)

    for n in range(rounds + 1):
        reply = client.chat.completions.create(model="remote/sonnet", messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if n == rounds:
            assert (reply.choices[0].finish_reason, message.content) == ("stop", "Done.")
            break
        assert reply.choices[0].finish_reason == "tool_calls"
        call = (message.tool_calls or [])[0]
        assert (call.id, call.function.name, call.function.arguments) == (
            f"toolu_loop{n:02d}",
            "get_time",
            f'{{"zone":"zone-secret-{n}"}}',
        )
        messages.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump()]})
        messages.append({"role": "tool", "tool_call_id": call.id, "content": f"result-secret-{n}"})

    fake.wait_quiet()
    sent = fake.messages_requests
    # One model request a round, and the last one carries the whole loop as real blocks, in order.
    assert len(sent) == rounds + 1
    last = without_cache_marks(sent[-1].chat_messages)
    assert len(last) == 1 + 2 * rounds
    assert last[1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_loop00", "name": "mcp__t__get_time", "input": {"zone": "zone-secret-0"}}
        ],
    }
    assert last[-1] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_loop49", "content": "result-secret-49"}],
    }
    assert [b["tool_use_id"] for m in last[2::2] for b in m["content"]] == [f"toolu_loop{n:02d}" for n in range(rounds)]
    # Every round after the first went back to the process that made its call.
    assert (
        runtime.metric("claude_code_request_paths_total", path="continued") - before["claude_code_request_paths_total"]
        == rounds
    )
    assert runtime.metric("claude_code_tool_requests_total") - before["claude_code_tool_requests_total"] == rounds + 1
    assert runtime.metric("claude_code_tool_calls_total") - before["claude_code_tool_calls_total"] == rounds
    # The runtime logs each request (a count of its calls), never the calls' arguments or their results.
    assert "Request finished" in runtime.process.output()
    assert "secret" not in runtime.process.output()


def anthropic_messages(proxy: Proxy, *, stream: bool) -> httpx.Response:
    """Anthropic's ``/v1/messages`` on the proxy (LiteLLM's adapter), with tools in Anthropic's form."""
    body = {
        "model": "remote/sonnet",
        "max_tokens": 1024,
        "messages": QUESTION,
        "tools": [
            {
                "name": t["function"]["name"],
                "description": t["function"]["description"],
                "input_schema": t["function"]["parameters"],
            }
            for t in TOOLS
        ],
        "stream": stream,
    }
    headers = {"x-api-key": proxy.key, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=60, trust_env=False)


def test_anthropic_messages_with_tools_answer_tool_use_blocks(fake: FakeAnthropic, proxy: Proxy) -> None:
    fake.enqueue(two_calls(("toolu_01MsgW", "toolu_01MsgT")))

    response = anthropic_messages(proxy, stream=False)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stop_reason"] == "tool_use"
    assert [b for b in body["content"] if b["type"] == "text"] == [{"type": "text", "text": "Let me look."}]
    assert [(b["id"], b["name"], b["input"]) for b in body["content"] if b["type"] == "tool_use"] == [
        ("toolu_01MsgW", "get_weather", {"city": "Paris"}),
        ("toolu_01MsgT", "get_time", {"zone": "CET"}),
    ]
    fake.wait_quiet()
    assert len(fake.messages_requests) == 1


def test_anthropic_messages_with_tools_stream_input_json_deltas(fake: FakeAnthropic, proxy: Proxy) -> None:
    fake.enqueue(two_calls(("toolu_01SseW", "toolu_01SseT")))

    response = anthropic_messages(proxy, stream=True)

    assert response.status_code == 200, response.text
    events = [json.loads(line[len("data: ") :]) for line in response.text.splitlines() if line.startswith("data: ")]
    starts = [e["content_block"] for e in events if e.get("type") == "content_block_start"]
    assert [(b["id"], b["name"]) for b in starts if b["type"] == "tool_use"] == [
        ("toolu_01SseW", "get_weather"),
        ("toolu_01SseT", "get_time"),
    ]
    pieces = [e["delta"]["partial_json"] for e in events if (e.get("delta") or {}).get("type") == "input_json_delta"]
    # The model's own fragments, passed on one by one.
    assert [piece for piece in pieces if piece] == ['{"city": ', '"Par', 'is"}', '{"zone"', ': "CET"}']
    assert [e["delta"]["stop_reason"] for e in events if e.get("type") == "message_delta"] == ["tool_use"]


def test_a_recurring_tool_set_is_served_by_a_parked_spare_that_offers_its_tools(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_SIZE": "1"})
    tools = [{"name": "get_time", "description": "The time in a zone.", "parameters": TIME_SCHEMA}]

    def ask(system: str) -> None:
        body = {"model": "sonnet", "system": system, "messages": QUESTION, "tools": tools}
        assert runtime.complete(body).status_code == 200

    fake.enqueue(TextReply("one"), TextReply("two"), TextReply("three"))
    ask("You are agent one.")
    ask("You are agent two.")  # the tool set came before: a spare is parked for it
    runtime.wait_for_spares(1)
    ask("You are agent three.")

    assert runtime.metric("claude_code_request_paths_total", path="spare") == 1
    third = fake.messages_requests[2]
    assert third.tools == [
        {"name": "mcp__t__get_time", "description": "The time in a zone.", "input_schema": TIME_SCHEMA}
    ]
    assert "You are agent three." in third.system_text


def test_after_a_tool_loop_the_process_serves_the_next_conversation_with_nothing_of_it(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_SIZE": "1"})
    tools = [{"name": "get_time", "description": "The time in a zone.", "parameters": TIME_SCHEMA}]
    call = {"id": "toolu_01Rewind", "name": "get_time", "arguments": '{"zone": "CET"}'}
    fake.enqueue(
        ToolReply([ToolUse("mcp__t__get_time", {"zone": "CET"}, id="toolu_01Rewind")]),
        TextReply("It is 14:05."),
        TextReply("Hello."),
    )

    def ask(messages: list[Any]) -> list[dict[str, Any]]:
        response = runtime.complete({"model": "sonnet", "messages": messages, "tools": tools})
        assert response.status_code == 200
        return [json.loads(line) for line in response.text.splitlines() if line]

    events = ask(QUESTION)
    assert [e for e in events if e["type"] == "tool_call"] == [
        {"type": "tool_call", "index": 0, "id": "toolu_01Rewind", "name": "get_time"}
    ]
    assert events[-1]["finish_reason"] == "tool_calls"
    ask(
        [
            *QUESTION,
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": "14:05", "tool_call_id": "toolu_01Rewind"},
        ]
    )
    # Rewound and given back off the request's path: wait for it.
    runtime.wait_for_spares(1)
    ask([{"role": "user", "content": "A new conversation."}])

    assert runtime.metric("claude_code_request_paths_total", path="continued") == 1
    assert runtime.metric("claude_code_request_paths_total", path="reused") == 1
    assert fake.messages_requests[2].chat_messages == [{"role": "user", "content": "A new conversation."}]


def test_the_process_that_made_the_calls_gives_the_model_back_its_own_thinking(
    fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    ids = ("toolu_01ThinkW", "toolu_01ThinkT")
    reply_with_thinking = two_calls(ids)
    reply_with_thinking.thinking = "Two lookups are needed."
    fake.enqueue(reply_with_thinking, TextReply("Sunny and 14:05 in Paris."))

    first = client.chat.completions.create(model="sonnet", messages=QUESTION, tools=TOOLS)
    assert first.choices[0].message.content == "Let me look."
    assert first.choices[0].message.reasoning_content == "Two lookups are needed."  # type: ignore[attr-defined]
    # The client's history below leaves out the thinking it was given.
    client.chat.completions.create(
        model="sonnet", messages=conversation_after_calls("Sunny, 21 C", "14:05", ids), tools=TOOLS
    )

    fake.wait_quiet()
    # A thinking model wants its thinking block back, signature intact, before the calls it led to: the
    # client's history has none, the process that made the calls has it.
    assistant = without_cache_marks(fake.messages_requests[1].chat_messages)[1]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "Two lookups are needed.",
        "signature": reply_with_thinking.signature,
    }
    assert [b["type"] for b in assistant["content"]] == ["thinking", "text", "tool_use", "tool_use"]


@pytest.mark.parametrize("kept", [False, True], ids=["thinking-dropped", "thinking-sent-back"])
def test_a_round_of_results_no_process_holds_is_fed_to_a_fresh_one_and_answered(
    kept: bool, fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_SIZE": "0"})  # no process is kept: none holds the calls
    tools = [{"name": "get_time", "description": "The time in a zone.", "parameters": TIME_SCHEMA}]
    call_id = f"toolu_01Fed{kept:d}"
    thought = ToolReply([ToolUse("mcp__t__get_time", {"zone": "CET"}, id=call_id)], thinking="One lookup.")
    fake.enqueue(thought, TextReply("It is 14:05."))

    def ask(messages: list[Any]) -> list[dict[str, Any]]:
        response = runtime.complete({"model": "sonnet", "messages": messages, "tools": tools})
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line]

    first = ask(QUESTION)
    assert first[-1]["finish_reason"] == "tool_calls"
    # The model thought before its call; a client that keeps the signed block may send it back.
    (block,) = [e for e in first if e["type"] == "thinking_block"]
    assert (block["thinking"], block["signature"]) == ("One lookup.", thought.signature)
    calling: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": call_id, "name": "get_time", "arguments": '{"zone": "CET"}'}],
    }
    if kept:
        calling["thinking"] = [block]
    fake.wait_quiet()
    fake.clear()
    fake.enqueue(TextReply("It is 14:05."))

    answer = ask([*QUESTION, calling, {"role": "tool", "tool_call_id": call_id, "content": "14:05"}])

    assert "".join(e["text"] for e in answer if e["type"] == "text") == "It is 14:05."
    assert answer[-1]["finish_reason"] == "stop"
    assert runtime.metric("claude_code_request_paths_total", path="fed") == 1
    assert runtime.metric("claude_code_request_paths_total", path="continued") == 0
    fake.wait_quiet()
    (sent,) = fake.messages_requests
    # The calling message as the API wants it after the question, the result after it, ids kept, and its
    # signed thinking first when the client sent it back.
    use = {"type": "tool_use", "id": call_id, "name": "mcp__t__get_time", "input": {"zone": "CET"}}
    signed = {"type": "thinking", "thinking": "One lookup.", "signature": thought.signature}
    assert without_cache_marks(sent.chat_messages) == [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": [signed, use] if kept else [use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "14:05"}]},
    ]
    # Without its thinking the round goes without thinking: with it on, the API refuses a tool-result round
    # whose calling message does not start with the model's thinking block (as the fake does).
    assert ("thinking" in sent.json) is kept


TOOL_LOOP_SIGNATURE = "EqQBCkYIBRgCKkDclientKeptSignature0123456789"


def after_calls_with_thinking(ids: tuple[str, str]) -> list[Any]:
    """The conversation after the calls as a client that keeps the model's thinking sends it back."""
    question, assistant, *results = conversation_after_calls("Sunny, 21 C", "14:05", ids)
    thinking = {"type": "thinking", "thinking": "Two lookups are needed.", "signature": TOOL_LOOP_SIGNATURE}
    return [question, {**assistant, "thinking_blocks": [thinking]}, *results]


def expected_with_thinking(ids: tuple[str, str]) -> list[dict[str, Any]]:
    """What the model must get: the signed thinking block first, before the text and calls it led to."""
    question, assistant, results = expected_after_calls(ids)
    thinking = {"type": "thinking", "thinking": "Two lookups are needed.", "signature": TOOL_LOOP_SIGNATURE}
    return [question, {**assistant, "content": [thinking, *assistant["content"]]}, results]


@MODES
def test_thinking_the_client_sends_back_in_a_tool_loop_reaches_the_model_before_the_calls(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    # No process holds these calls: a fresh one is fed the conversation (the cold path of a tool loop).
    ids = (f"toolu_01ThinkBackW{mode[:1]}", f"toolu_01ThinkBackT{mode[:1]}")
    fake.enqueue(TextReply("Sunny and 14:05 in Paris."))

    reply = client.chat.completions.create(model=f"{mode}sonnet", messages=after_calls_with_thinking(ids), tools=TOOLS)

    assert reply.choices[0].message.content == "Sunny and 14:05 in Paris."
    fake.wait_quiet()
    assert len(fake.messages_requests) == 1
    assert without_cache_marks(fake.messages_requests[0].chat_messages) == expected_with_thinking(ids)


def test_thinking_sent_back_in_a_tool_loop_reaches_the_model_from_a_warm_spare(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_SIZE": "1"})
    tools = [
        {"name": "get_weather", "description": "The weather in a city now.", "parameters": WEATHER_SCHEMA},
        {"name": "get_time", "description": "The time in a zone.", "parameters": TIME_SCHEMA},
    ]
    ids = ("toolu_01ThinkSpareW", "toolu_01ThinkSpareT")
    question, assistant, *results = conversation_after_calls("Sunny, 21 C", "14:05", ids)
    calls = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in assistant["tool_calls"]
    ]
    messages = [
        question,
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": calls,
            "thinking": [{"kind": "thinking", "thinking": "Two lookups are needed.", "signature": TOOL_LOOP_SIGNATURE}],
        },
        *results,
    ]
    fake.enqueue(TextReply("one"), TextReply("two"), TextReply("Sunny and 14:05 in Paris."))
    for agent in ("one", "two"):  # the tool set comes again: a spare is parked for it
        body = {"model": "sonnet", "system": f"You are agent {agent}.", "messages": QUESTION, "tools": tools}
        assert runtime.complete(body).status_code == 200
    runtime.wait_for_spares(1)

    body = {"model": "sonnet", "system": "You are agent three.", "messages": messages, "tools": tools}
    assert runtime.complete(body).status_code == 200

    assert runtime.metric("claude_code_request_paths_total", path="spare") == 1
    fake.wait_quiet()
    assert without_cache_marks(fake.messages_requests[2].chat_messages) == expected_with_thinking(ids)
