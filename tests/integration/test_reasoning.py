"""Reasoning through the real chain: what a client asks for is what the upstream receives, warm and cold."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.stack import Runtime

WARM = {"CLAUDE_CODE_POOL_WARM_MODELS": "sonnet", "CLAUDE_CODE_POOL_SIZE": "1"}


@pytest.mark.parametrize("route", ["", "remote/"])
@pytest.mark.parametrize("effort", ["low", "high"])
def test_reasoning_effort_is_the_effort_the_upstream_receives(
    route: str, effort: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Thought about it."))

    reply = client.chat.completions.create(
        model=f"{route}sonnet", messages=[{"role": "user", "content": "hi"}], reasoning_effort=effort
    )

    assert reply.choices[0].message.content == "Thought about it."
    (sent,) = fake.messages_requests
    assert sent.json["output_config"] == {"effort": effort}
    assert sent.json["thinking"]["type"] == "adaptive"


def test_without_reasoning_effort_the_clis_default_stays(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply("Default."))

    client.chat.completions.create(model="remote/sonnet", messages=[{"role": "user", "content": "hi"}])

    assert fake.messages_requests[0].json["output_config"] == {"effort": "medium"}


@pytest.mark.parametrize(
    ("thinking", "received"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, {"type": "enabled", "budget_tokens": 2048}),
        ({"type": "disabled"}, {"type": "disabled"}),
    ],
)
def test_anthropic_thinking_sets_the_budget_on_a_model_that_takes_one(
    thinking: dict[str, object], received: dict[str, object], fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Budgeted."))

    client.chat.completions.create(
        model="remote/claude-sonnet-4-5-20250929",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"thinking": thinking},
    )

    sent = fake.messages_requests[0].json["thinking"]
    assert {k: v for k, v in sent.items() if k != "display"} == received


@pytest.mark.parametrize(
    "thinking",
    [{"type": "enabled", "budget_tokens": 2048}, {"type": "enabled", "budget_tokens": 1024}, {"type": "disabled"}],
)
def test_on_an_adaptive_thinking_alias_anthropic_thinking_changes_nothing_upstream(
    thinking: dict[str, object], fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Adaptive."))

    client.chat.completions.create(
        model="remote/sonnet", messages=[{"role": "user", "content": "hi"}], extra_body={"thinking": thinking}
    )

    # The CLI sends the sonnet alias's model adaptive thinking and its default effort, budget or not (it lists
    # the alias with supportsAdaptiveThinking and without supportsThinkingOff); reasoning_effort is what counts.
    sent = fake.messages_requests[0].json
    assert sent["thinking"] == {"type": "adaptive", "display": "updates"}
    assert sent["output_config"] == {"effort": "medium"}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"reasoning_effort": "extreme"}, "'reasoning_effort' must be one of 'low', 'medium', 'high', not 'extreme'"),
        ({"extra_body": {"thinking": {"type": "enabled"}}}, "'thinking' is invalid"),
        ({"extra_body": {"thinking": {"type": "enabled", "budget_tokens": 10}}}, "'thinking' is invalid"),
        ({"extra_body": {"thinking": "lots"}}, "'thinking' must be an object"),
    ],
)
def test_reasoning_it_cannot_take_is_a_400_naming_it(
    extra: dict[str, object], named: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="remote/sonnet",
            messages=[{"role": "user", "content": "hi"}],
            **extra,  # type: ignore[arg-type]
        )

    assert named in refused.value.body["message"]  # type: ignore[index]
    assert fake.messages_requests == []


def test_a_request_with_reasoning_is_served_warm_when_it_comes_again(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env=WARM)
    runtime.wait_for_spares(1)
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "q"}], "effort": "high"}

    for _ in range(3):
        assert runtime.complete(body).is_success

    assert [r.json["output_config"] for r in fake.messages_requests] == [{"effort": "high"}] * 3
    # The first is cold (a new option set); a later one reuses its process once it is given back (off the
    # request's path, so a request right behind it may still start cold on a loaded machine).
    cold = runtime.metric("claude_code_request_paths_total", path="cold")
    reused = runtime.metric("claude_code_request_paths_total", path="reused")
    assert cold >= 1
    assert reused >= 1
    assert cold + reused == 3


SIGNATURE = "EqQBCkYIBRgCKkDfakeSignature0123456789abcdef"
THINKING = TextReply("The answer is 4.", thinking=["Two plus ", "two is four."], redacted_thinking="UmVkYWN0ZWQ=")


@pytest.mark.parametrize("route", ["", "remote/"])
def test_the_models_thinking_comes_back_apart_from_the_answer(
    route: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(THINKING)

    reply = client.chat.completions.create(model=f"{route}sonnet", messages=[{"role": "user", "content": "2+2?"}])

    message = reply.choices[0].message
    assert message.content == "The answer is 4."
    assert message.reasoning_content == "Two plus two is four."  # type: ignore[attr-defined]
    assert message.thinking_blocks == [  # type: ignore[attr-defined]
        {"type": "thinking", "thinking": "Two plus two is four.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "UmVkYWN0ZWQ="},
    ]


@pytest.mark.parametrize("route", ["", "remote/"])
def test_streamed_thinking_arrives_as_reasoning_content_deltas_before_the_answer(
    route: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(THINKING)

    chunks = list(
        client.chat.completions.create(
            model=f"{route}sonnet", messages=[{"role": "user", "content": "2+2?"}], stream=True
        )
    )

    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    reasoning = [d.reasoning_content for d in deltas if getattr(d, "reasoning_content", None)]  # type: ignore[attr-defined]
    assert reasoning == ["Two plus ", "two is four."]
    blocks = [b for d in deltas for b in (getattr(d, "thinking_blocks", None) or [])]
    assert blocks == [
        {"type": "thinking", "thinking": "Two plus two is four.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "UmVkYWN0ZWQ="},
    ]
    assert "".join(d.content or "" for d in deltas) == "The answer is 4."
    first_text = next(i for i, d in enumerate(deltas) if d.content)
    assert all(not getattr(d, "reasoning_content", None) for d in deltas[first_text:])
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


HISTORY_THINKING = [
    {"type": "thinking", "thinking": "Two plus two is four.", "signature": SIGNATURE},
    {"type": "redacted_thinking", "data": "UmVkYWN0ZWQ="},
]
HISTORY = [
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "The answer is 4.", "thinking_blocks": HISTORY_THINKING},
    {"role": "user", "content": "And 3+3?"},
]


def sent_assistant_content(fake: FakeAnthropic) -> list[dict[str, object]]:
    (assistant,) = [m for m in fake.messages_requests[-1].chat_messages if m["role"] == "assistant"]
    return [{k: v for k, v in block.items() if k != "cache_control"} for block in assistant["content"]]


# The CLI is handed an earlier turn's thinking with its signature (transcript or frame) and, like the API
# outside a tool loop, leaves it out of the next call: what reaches the model is the turn's text.
@pytest.mark.parametrize("route", ["", "remote/"])
def test_thinking_sent_back_in_history_is_taken_and_the_turn_reaches_the_model(
    route: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Six."))

    reply = client.chat.completions.create(model=f"{route}sonnet", messages=HISTORY)  # type: ignore[arg-type]

    assert reply.choices[0].message.content == "Six."
    assert sent_assistant_content(fake) == [{"type": "text", "text": "The answer is 4."}]


def test_thinking_in_history_is_served_warm_too(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    runtime = start(env=WARM)
    runtime.wait_for_spares(1)
    fake.enqueue(TextReply("Six."))

    assert runtime.complete({"model": "sonnet", "messages": HISTORY_PROTOCOL}).is_success

    assert runtime.metric("claude_code_request_paths_total", path="spare") == 1
    assert sent_assistant_content(fake) == [{"type": "text", "text": "The answer is 4."}]


HISTORY_PROTOCOL = [
    {"role": "user", "content": "2+2?"},
    {
        "role": "assistant",
        "content": "The answer is 4.",
        "thinking": [
            {"kind": "thinking", "thinking": "Two plus two is four.", "signature": SIGNATURE},
            {"kind": "redacted_thinking", "data": "UmVkYWN0ZWQ="},
        ],
    },
    {"role": "user", "content": "And 3+3?"},
]
