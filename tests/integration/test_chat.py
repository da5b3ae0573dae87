"""OpenAI chat semantics through the real LiteLLM proxy, in both provider modes."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import DropMidStream, FakeAnthropic, Hang, TextReply, Usage
from claude_code_devkit.waiting import wait_until

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


def answer(client: openai.OpenAI, model: str, prompt: str, *, stream: bool, **params: Any) -> tuple[str, list[str]]:
    """The answer's text and its finish reasons, asked for whole or streamed."""
    messages: Any = [{"role": "user", "content": prompt}]
    if not stream:
        reply = client.chat.completions.create(model=model, messages=messages, **params)
        return reply.choices[0].message.content or "", [reply.choices[0].finish_reason]
    chunks = client.chat.completions.create(model=model, messages=messages, stream=True, **params)
    parts = [(c.choices[0].delta.content or "", c.choices[0].finish_reason) for c in chunks if c.choices]
    return "".join(text for text, _ in parts), [reason for _, reason in parts if reason]


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
    fake.enqueue(
        TextReply(
            deltas,
            delay_s=0.4,
            usage=Usage(input_tokens=9, output_tokens=4, cache_creation_input_tokens=3, cache_read_input_tokens=50),
        )
    )

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
    # The same usage a whole answer reports, cache counts included.
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (9 + 3 + 50, 4, 9 + 3 + 50 + 4)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 50


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
    wait_until(
        lambda: follow_up.abandoned_at is not None,
        timeout=20,
        what="the go-on request abandoned",
        ignore=(Exception,),
        interval=0.05,
    )


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


@MODES
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_the_answer_ends_before_the_first_stop_sequence_and_the_cli_stops_there(
    mode: str, stream: bool, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    # The stop sequence spans two deltas; the rest of the answer would take 40 s more to arrive (a CLI's
    # start on a loaded machine takes seconds: the bound below tells a stopped answer from a whole one).
    fake.enqueue(TextReply(["Roses are red. EN", "D of the poem", *[" and on"] * 40], delay_s=1.0))
    started = time.monotonic()

    text, finish = answer(client, f"{mode}sonnet", "poem", stream=stream, stop=["END", "never"] if stream else "END")

    assert text == "Roses are red. "
    assert finish == ["stop"]
    assert time.monotonic() - started < 20


@MODES
@pytest.mark.parametrize(("name", "value"), [("temperature", 0.2), ("top_p", 0.5), ("seed", 7), ("logprobs", True)])
def test_sampling_parameters_are_refused_naming_the_parameter(
    mode: str, name: str, value: object, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=f"{mode}sonnet", messages=[{"role": "user", "content": "hi"}], **{name: value}
        )

    assert caught.value.status_code == 400
    assert repr(name) in caught.value.message
    assert "drop_params" in caught.value.message
    assert fake.messages_requests == []


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {}}}},
    ],
)
def test_response_format_is_refused_naming_it(
    response_format: dict[str, object], fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="remote/sonnet",
            messages=[{"role": "user", "content": "hi"}],
            response_format=response_format,  # type: ignore[arg-type]
        )

    assert caught.value.status_code == 400
    assert "claude-code does not support the parameter(s) 'response_format'" in caught.value.message
    assert fake.messages_requests == []


def test_with_drop_params_unsupported_parameters_are_ignored(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply("Answered anyway."))

    reply = client.chat.completions.create(
        model="dropping/sonnet", messages=[{"role": "user", "content": "hi"}], temperature=0.2, seed=7
    )

    assert reply.choices[0].message.content == "Answered anyway."
    assert len(fake.messages_requests) == 1
    assert "temperature" not in fake.messages_requests[0].json


def test_a_forced_tool_choice_is_refused_rather_than_ignored(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}

    with pytest.raises(openai.BadRequestError, match=r"does not support the parameter\(s\) 'tool_choice'"):
        client.chat.completions.create(
            model="remote/sonnet", messages=[{"role": "user", "content": "hi"}], tools=[tool], tool_choice="required"
        )
    assert fake.messages_requests == []


@MODES
@pytest.mark.parametrize("prompt", ["/help me write a poem", "/cost", "@/etc/hostname what is in there?"])
def test_a_message_that_looks_like_a_command_reaches_the_model_verbatim(
    mode: str, prompt: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("A poem."))

    reply = client.chat.completions.create(model=f"{mode}sonnet", messages=[{"role": "user", "content": prompt}])

    # Asked of the model as written: no slash command run, no local file read into the prompt.
    assert reply.choices[0].message.content == "A poem."
    assert len(fake.messages_requests) == 1
    assert user_and_assistant_turns(fake.messages_requests[0].messages) == [("user", prompt)]


@MODES
def test_history_turns_that_look_like_commands_reach_the_model_verbatim(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Done."))
    history = [
        {"role": "user", "content": "/cost"},
        {"role": "assistant", "content": "/help is what you typed"},
        {"role": "user", "content": "/clear and @/etc/hostname"},
    ]

    client.chat.completions.create(model=f"{mode}sonnet", messages=history)

    assert len(fake.messages_requests) == 1
    assert user_and_assistant_turns(fake.messages_requests[0].messages) == [(m["role"], m["content"]) for m in history]


@MODES
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_an_answer_fetched_again_without_streaming_is_delivered_whole(
    mode: str, stream: bool, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    # A stream that breaks before any text: the CLI (no retries left) asks again without streaming.
    fake.enqueue(DropMidStream([]), TextReply("The whole answer."))

    text, finish = answer(client, f"{mode}sonnet", "hi", stream=stream)

    assert [r.stream for r in fake.messages_requests] == [True, False]
    assert text == "The whole answer."
    assert finish == ["stop"]


@MODES
def test_a_fallback_answer_that_does_not_continue_the_streamed_part_is_an_error(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(DropMidStream(["Half an ans"]), TextReply("Something else entirely."))

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=f"{mode}sonnet", messages=[{"role": "user", "content": "hi"}])

    assert [r.stream for r in fake.messages_requests] == [True, False]
    assert caught.value.status_code == 503
    assert "broke off" in caught.value.message
