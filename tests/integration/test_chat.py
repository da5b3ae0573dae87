"""OpenAI chat semantics through the real LiteLLM proxy, in both provider modes."""

from __future__ import annotations

import json
import time

import openai
import pytest
from tests.fakes.anthropic_api import FakeAnthropic, Hang, TextReply, Usage
from tests.support import wait_until

# "" runs the CLI inside the proxy process (local use); "remote/" goes through the pod runtime.
MODES = pytest.mark.parametrize("mode", ["", "remote/"], ids=["in-process", "runtime"])


def user_and_assistant_turns(messages: list[dict[str, object]]) -> list[tuple[object, str]]:
    """The conversation as the model saw it, without the CLI's own context blocks."""
    turns = []
    for message in messages:
        if message["role"] not in ("user", "assistant"):
            continue
        content = message["content"]
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)  # type: ignore[union-attr]
        turns.append((message["role"], text))
    return turns


@MODES
def test_completion_returns_text_finish_reason_and_the_upstreams_usage(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(
        TextReply(
            ["Paris", " is the capital."],
            usage=Usage(input_tokens=21, output_tokens=7, cache_creation_input_tokens=5, cache_read_input_tokens=100),
        )
    )

    reply = client.chat.completions.create(
        model=f"{mode}sonnet", messages=[{"role": "user", "content": "Capital of France?"}]
    )

    assert reply.choices[0].message.content == "Paris is the capital."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 7
    assert reply.usage.prompt_tokens == 21 + 5 + 100
    assert reply.usage.total_tokens == 21 + 5 + 100 + 7
    assert reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 100
    assert len(fake.messages_requests) == 1


@MODES
def test_streaming_delivers_each_delta_as_the_model_produces_it(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    deltas = ["One", ", two", ", three", ", four."]
    fake.enqueue(TextReply(deltas, delay_s=0.4, usage=Usage(input_tokens=9, output_tokens=4)))

    arrivals: list[tuple[float, str]] = []
    finish_reasons = []
    usage = None
    stream = client.chat.completions.create(
        model=f"{mode}sonnet",
        messages=[{"role": "user", "content": "Count to four."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                arrivals.append((time.monotonic(), choice.delta.content))
            if choice.finish_reason:
                finish_reasons.append(choice.finish_reason)

    # The upstream's own deltas, neither merged into one chunk at the end nor split into words.
    assert [text for _, text in arrivals] == deltas
    # They arrive spread out as the upstream sends them (0.4 s apart), not all at once.
    assert arrivals[-1][0] - arrivals[0][0] >= 0.8
    assert finish_reasons == ["stop"]
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (9, 4)


@MODES
def test_system_prompt_and_history_reach_the_model_as_one_conversation(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Blue, as you said."))
    history = [
        {"role": "user", "content": "My favourite colour is blue."},
        {"role": "assistant", "content": "Noted: blue."},
        {"role": "user", "content": "And my cat is called Tom."},
        {"role": "assistant", "content": "Tom the cat, noted."},
        {"role": "user", "content": "What is my favourite colour?"},
    ]

    reply = client.chat.completions.create(
        model=f"{mode}sonnet",
        messages=[{"role": "system", "content": "Answer in one short sentence."}, *history],
    )

    assert reply.choices[0].message.content == "Blue, as you said."
    # One model call holding every earlier turn, in order, with its own role.
    assert len(fake.messages_requests) == 1
    sent = fake.messages_requests[0]
    assert user_and_assistant_turns(sent.messages) == [(m["role"], m["content"]) for m in history]
    assert "Answer in one short sentence." in sent.system_text


@MODES
def test_max_tokens_reaches_the_model_and_a_cut_answer_says_length(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    # The CLI asks the model to go on after a cut answer; that request would never be answered.
    fake.enqueue(TextReply("Once upon", stop_reason="max_tokens"), Hang())

    reply = client.chat.completions.create(
        model=f"{mode}haiku", messages=[{"role": "user", "content": "Tell a story."}], max_tokens=17
    )

    assert fake.messages_requests[0].max_tokens == 17
    assert reply.choices[0].finish_reason == "length"
    # An OpenAI client that set max_tokens gets the cut answer alone, without waiting for a go-on.
    assert reply.choices[0].message.content == "Once upon"
    # The CLI had already asked the model to go on (it does so as soon as the cut answer ends): that
    # request carries the cut answer, is abandoned (its connection dropped, never answered), and no
    # other comes after it.
    fake.wait_quiet(quiet=1.0)
    assert len(fake.messages_requests) == 2
    follow_up = fake.messages_requests[1]
    assert "Once upon" in json.dumps(follow_up.chat_messages)
    wait_until(lambda: follow_up.abandoned_at is not None, timeout=20, what="the go-on request abandoned")


@pytest.mark.parametrize(
    ("model", "upstream_prefix"),
    [
        ("sonnet", "claude-sonnet-"),
        ("opus", "claude-opus-"),
        ("haiku", "claude-haiku-"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
    ],
)
def test_model_names_reach_the_cli(
    model: str, upstream_prefix: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    client.chat.completions.create(model=f"remote/{model}", messages=[{"role": "user", "content": "hi"}])

    assert fake.messages_requests[0].model.startswith(upstream_prefix)


@MODES
def test_the_model_is_plain_chat_without_tools(mode: str, fake: FakeAnthropic, client: openai.OpenAI) -> None:
    client.chat.completions.create(model=f"{mode}sonnet", messages=[{"role": "user", "content": "hi"}])

    sent = fake.messages_requests[0]
    assert not sent.tools
    assert sent.bearer_token is not None
    assert sent.bearer_token.startswith("sk-ant-oat01-")
    assert sent.api_key is None
    # The unmodified CLI, saying what it is.
    assert sent.headers["user-agent"].startswith("claude-cli/")


def test_tool_requests_are_refused_rather_than_ignored(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}

    with pytest.raises(openai.BadRequestError, match="not supported"):
        client.chat.completions.create(
            model="remote/sonnet", messages=[{"role": "user", "content": "hi"}], tools=[tool]
        )
    assert fake.messages_requests == []
