"""The proxy's other endpoints through LiteLLM's bridges: /v1/responses and Anthropic's /v1/messages
(/v1/models: tests/integration/test_local_example.py)."""

from __future__ import annotations

import base64
import json

import httpx
import openai

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply, ToolReply, ToolUse
from claude_code_devkit.stack import Proxy

GIF = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="


def test_responses_plain(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply("Hello from responses."))

    response = client.responses.create(model="remote/sonnet", input="Say hello")

    assert response.output_text == "Hello from responses."
    assert "Say hello" in str(fake.messages_requests[0].chat_messages)


def test_responses_streamed(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply(["Hello ", "streamed."]))

    events = list(client.responses.create(model="remote/sonnet", input="Say hello", stream=True))

    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Hello streamed."
    assert events[-1].type == "response.completed"


TIME_SCHEMA = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
RESPONSES_TOOLS = [
    {"type": "function", "name": "get_time", "description": "The time in a zone.", "parameters": TIME_SCHEMA}
]


def test_responses_with_tools_call_them_and_take_their_results(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(
        ToolReply([ToolUse("mcp__t__get_time", {"zone": "CET"}, id="toolu_01RespTime")], text="Let me look."),
        TextReply("It is 14:05 in Paris."),
    )

    first = client.responses.create(
        model="remote/sonnet",
        input="Time in Paris?",
        tools=RESPONSES_TOOLS,  # type: ignore[arg-type]
    )

    (call,) = [item for item in first.output if item.type == "function_call"]
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("toolu_01RespTime", "get_time", {"zone": "CET"})
    offered = fake.messages_requests[0].tools
    assert offered == [{"name": "mcp__t__get_time", "description": "The time in a zone.", "input_schema": TIME_SCHEMA}]
    fake.wait_quiet()

    second = client.responses.create(
        model="remote/sonnet",
        input=[
            {"role": "user", "content": "Time in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "14:05"},
        ],
        tools=RESPONSES_TOOLS,  # type: ignore[arg-type]
    )

    assert second.output_text == "It is 14:05 in Paris."
    results = [
        {k: v for k, v in block.items() if k != "cache_control"}
        for message in fake.messages_requests[-1].chat_messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert results == [{"type": "tool_result", "tool_use_id": "toolu_01RespTime", "content": "14:05"}]


def test_anthropic_messages_with_an_image_and_thinking(fake: FakeAnthropic, proxy: Proxy) -> None:
    fake.enqueue(TextReply("A pixel.", thinking=["Looking ", "closely."]))
    body = {
        "model": "remote/sonnet",
        "max_tokens": 1000,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": GIF}},
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    }

    answer = httpx.post(
        proxy.url + "/v1/messages",
        json=body,
        headers={"x-api-key": proxy.key, "anthropic-version": "2023-06-01"},
        timeout=120,
        trust_env=False,
    )

    assert answer.status_code == 200, answer.text
    content = answer.json()["content"]
    assert [b["type"] for b in content] == ["thinking", "text"]
    assert content[0]["thinking"] == "Looking closely."
    assert content[0]["signature"] == "EqQBCkYIBRgCKkDfakeSignature0123456789abcdef"
    assert content[1]["text"] == "A pixel."
    sent = [b for m in fake.messages_requests[0].chat_messages for b in m["content"] if isinstance(b, dict)]
    images = [b["source"] for b in sent if b.get("type") == "image"]
    assert [(i["media_type"], base64.b64decode(i["data"])) for i in images] == [("image/gif", base64.b64decode(GIF))]
