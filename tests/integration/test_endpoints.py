"""The proxy's other endpoints through LiteLLM's bridges: /v1/responses and Anthropic's /v1/messages
(/v1/models: tests/integration/test_local_example.py)."""

from __future__ import annotations

import base64

import httpx
import openai
from tests.fakes.anthropic_api import FakeAnthropic, TextReply
from tests.stack import Proxy

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
