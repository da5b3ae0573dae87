"""The wire contract between the LiteLLM adapter and the runtime."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from claude_code_provider.errors import ErrorKind
from claude_code_provider.protocol import (
    ChatTurn,
    CompletionRequest,
    ErrorEvent,
    Finish,
    TextDelta,
    Usage,
    decode_event,
    encode_event,
)


@pytest.mark.parametrize(
    "event",
    [
        TextDelta(text="Hello, «world»\n"),
        TextDelta(text='{"type": "finish"}'),
        Finish(
            finish_reason="length",
            usage=Usage(input_tokens=1, output_tokens=2, cache_creation_input_tokens=3, cache_read_input_tokens=4),
            model="claude-sonnet-4-5",
        ),
        Finish(finish_reason="stop", usage=Usage()),
        Finish(finish_reason="content_filter", usage=Usage(output_tokens=9)),
        ErrorEvent(kind=ErrorKind.USAGE_LIMIT, message="limit reached", retry_after=120.0),
        ErrorEvent(kind=ErrorKind.NOT_LOGGED_IN, message="run `claude setup-token`"),
    ],
)
def test_events_round_trip_as_one_json_line(event: TextDelta | Finish | ErrorEvent) -> None:
    line = encode_event(event)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    decoded = decode_event(line)
    assert type(decoded) is type(event)
    assert decoded == event
    assert decode_event(line.decode()) == event


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValidationError):
        decode_event(b'{"type": "tool_use", "text": "x"}\n')


def test_unknown_error_kind_is_rejected() -> None:
    with pytest.raises(ValidationError):
        decode_event(b'{"type": "error", "kind": "teapot", "message": "x"}\n')


def turns(*roles: str) -> list[dict[str, str]]:
    return [{"role": role, "content": f"turn {i}"} for i, role in enumerate(roles)]


def test_request_splits_prompt_and_history() -> None:
    request = CompletionRequest.model_validate(
        {"model": "m", "messages": turns("user", "assistant", "user"), "max_tokens": 10}
    )
    assert request.prompt == "turn 2"
    assert request.history == [ChatTurn(role="user", content="turn 0"), ChatTurn(role="assistant", content="turn 1")]


def test_request_rejects_empty_messages() -> None:
    with pytest.raises(ValidationError, match="messages"):
        CompletionRequest(model="m", messages=[])


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_request_rejects_non_positive_max_tokens(max_tokens: int) -> None:
    with pytest.raises(ValidationError, match="max_tokens"):
        CompletionRequest.model_validate({"model": "m", "messages": turns("user"), "max_tokens": max_tokens})


def test_request_rejects_a_last_assistant_turn() -> None:
    with pytest.raises(ValidationError, match="last message must come from the user"):
        CompletionRequest.model_validate({"model": "m", "messages": turns("user", "assistant")})


def test_request_rejects_other_roles_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"model": "m", "messages": turns("system", "user")})
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"model": "m", "messages": turns("user"), "temperature": 0.5})


def test_request_rejects_an_empty_model() -> None:
    with pytest.raises(ValidationError, match="model"):
        CompletionRequest.model_validate({"model": "", "messages": turns("user")})
