"""The SDK's messages become text deltas, one finish, or the error a failed turn means."""

from __future__ import annotations

from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    RateLimitEvent,
    RateLimitInfo,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
)

from claude_code_provider.engine.translate import TurnState, judge_result, redact, to_usage
from claude_code_provider.errors import ClaudeCodeError, ErrorKind
from claude_code_provider.protocol import Finish, TextDelta, Usage

MODEL = "claude-sonnet-4-5-20250929"
NOW = 1_760_000_000.0


def stream(event: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=event)


def text_delta(text: str) -> StreamEvent:
    return stream({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


def message_start(usage: dict[str, int]) -> StreamEvent:
    return stream(
        {
            "type": "message_start",
            "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL, "usage": usage},
        }
    )


def result(
    *,
    is_error: bool = False,
    stop_reason: str | None = "end_turn",
    usage: dict[str, Any] | None = None,
    api_error_status: int | None = None,
    text: str | None = None,
    errors: list[str] | None = None,
) -> ResultMessage:
    return ResultMessage(
        subtype="success",
        duration_ms=10,
        duration_api_ms=8,
        is_error=is_error,
        num_turns=1,
        session_id="s",
        stop_reason=stop_reason,
        usage=usage,
        result=text,
        errors=errors,
        api_error_status=api_error_status,
    )


def failure(state: TurnState, **kwargs: Any) -> ClaudeCodeError:
    with pytest.raises(ClaudeCodeError) as caught:
        judge_result(result(is_error=True, stop_reason=None, **kwargs), state, now=NOW)
    return caught.value


def rejected(resets_at: int | None) -> RateLimitEvent:
    return RateLimitEvent(
        rate_limit_info=RateLimitInfo(status="rejected", resets_at=resets_at, rate_limit_type="five_hour"),
        uuid="u",
        session_id="s",
    )


# Streaming


def test_text_deltas_come_from_content_block_delta_events() -> None:
    state = TurnState()
    events = [state.observe(m) for m in (message_start({"input_tokens": 3}), text_delta("Hel"), text_delta("lo"))]
    assert events == [None, TextDelta(text="Hel"), TextDelta(text="lo")]
    assert state.sent == "Hello"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ],
)
def test_events_without_answer_text_yield_nothing(event: dict[str, Any]) -> None:
    state = TurnState()
    assert state.observe(stream(event)) is None
    assert not state.sent


def test_an_answer_cut_at_max_tokens_finishes_with_length_and_that_messages_usage() -> None:
    state = TurnState()
    state.observe(message_start({"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 7}))
    state.observe(text_delta("partial"))
    finish = state.observe(
        stream({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 16}})
    )
    assert finish == Finish(
        finish_reason="length",
        usage=Usage(input_tokens=12, output_tokens=16, cache_read_input_tokens=7),
        model=MODEL,
    )


def test_null_counts_in_message_delta_do_not_erase_the_input_count() -> None:
    # The API has sent explicit nulls for the counts a message_delta does not report.
    state = TurnState()
    state.observe(message_start({"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 7}))
    finish = state.observe(
        stream(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens"},
                "usage": {"input_tokens": None, "cache_read_input_tokens": None, "output_tokens": 16},
            }
        )
    )
    assert isinstance(finish, Finish)
    assert finish.usage == Usage(input_tokens=12, output_tokens=16, cache_read_input_tokens=7)


def test_a_message_delta_ending_normally_does_not_finish_early() -> None:
    state = TurnState()
    state.observe(message_start({"input_tokens": 12}))
    event = stream({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}})
    assert state.observe(event) is None


def test_assistant_message_and_stream_record_the_model() -> None:
    state = TurnState()
    state.observe(AssistantMessage(content=[TextBlock(text="hi")], model="claude-opus-4-1"))
    finish = judge_result(result(usage={"input_tokens": 1, "output_tokens": 1}), state, now=NOW)
    assert finish.model == "claude-opus-4-1"


def test_an_answer_streamed_in_full_is_not_repeated_by_its_assistant_message() -> None:
    state = TurnState()
    assert [state.observe(m) for m in (text_delta("Hel"), text_delta("lo"))] == [
        TextDelta(text="Hel"),
        TextDelta(text="lo"),
    ]
    assert state.observe(AssistantMessage(content=[TextBlock(text="Hello")], model=MODEL)) is None


def test_an_answer_fetched_without_streaming_comes_from_the_assistant_message() -> None:
    # The CLI's non-streaming fallback: no deltas at all, the whole answer in the message.
    state = TurnState()
    state.observe(message_start({"input_tokens": 3}))
    assert state.observe(AssistantMessage(content=[TextBlock(text="Whole answer")], model=MODEL)) == TextDelta(
        text="Whole answer"
    )


def test_a_fallback_answer_that_goes_on_from_the_streamed_part_delivers_only_the_rest() -> None:
    state = TurnState()
    state.observe(text_delta("Half an ans"))
    event = state.observe(AssistantMessage(content=[TextBlock(text="Half an answer.")], model=MODEL))
    assert event == TextDelta(text="wer.")


def test_a_fallback_answer_unlike_the_streamed_part_is_an_upstream_error() -> None:
    state = TurnState()
    state.observe(text_delta("Half an ans"))
    with pytest.raises(ClaudeCodeError) as caught:
        state.observe(AssistantMessage(content=[TextBlock(text="A different answer.")], model=MODEL))
    assert caught.value.kind is ErrorKind.UPSTREAM_ERROR
    assert "broke off" in caught.value.message


def test_the_text_of_a_failed_turn_is_not_an_answer() -> None:
    state = TurnState()
    error = AssistantMessage(content=[TextBlock(text="API Error: 500")], model="<synthetic>", error="server_error")
    assert state.observe(error) is None
    assert not state.sent


def test_api_retry_after_text_was_streamed_is_an_upstream_error() -> None:
    state = TurnState()
    state.observe(text_delta("The beginning"))
    with pytest.raises(ClaudeCodeError) as caught:
        state.observe(SystemMessage(subtype="api_retry", data={"attempt": 1, "error_status": 529}))
    assert caught.value.kind is ErrorKind.UPSTREAM_ERROR
    assert "retry" in caught.value.message


def test_api_retry_before_any_text_is_tolerated() -> None:
    state = TurnState()
    state.observe(message_start({"input_tokens": 3}))
    assert state.observe(SystemMessage(subtype="api_retry", data={"attempt": 1, "error_status": 529})) is None
    assert state.observe(text_delta("fine")) == TextDelta(text="fine")


def test_other_system_messages_after_text_are_tolerated() -> None:
    state = TurnState()
    state.observe(text_delta("text"))
    assert state.observe(SystemMessage(subtype="init", data={})) is None


# Successful results


def test_success_copies_all_four_usage_counts_exactly() -> None:
    usage = {
        "input_tokens": 11,
        "output_tokens": 22,
        "cache_creation_input_tokens": 33,
        "cache_read_input_tokens": 44,
        "service_tier": "standard",
    }
    finish = judge_result(result(usage=usage), TurnState(), now=NOW)
    assert finish.usage == Usage(
        input_tokens=11, output_tokens=22, cache_creation_input_tokens=33, cache_read_input_tokens=44
    )


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("tool_use", "tool_calls"),
        ("tool_deferred", "tool_calls"),  # the PreToolUse hook deferred the calls to the client
        (None, "stop"),
    ],
)
def test_stop_reasons_map_to_openai_finish_reasons(stop_reason: str | None, finish_reason: str) -> None:
    finish = judge_result(result(stop_reason=stop_reason, usage={}), TurnState(), now=NOW)
    assert finish.finish_reason == finish_reason


def test_missing_or_malformed_usage_counts_are_zero() -> None:
    assert to_usage(None) == Usage()
    assert to_usage({"input_tokens": "12", "output_tokens": 5}) == Usage(output_tokens=5)


# Failed results


def test_401_is_not_logged_in() -> None:
    # How to log in depends on where it runs: the engine adds that (test_login_hints.py).
    error = failure(TurnState(), api_error_status=401, text="Invalid API key · Please run /login")
    assert error.kind is ErrorKind.NOT_LOGGED_IN
    assert error.status == 401
    assert error.message == "Claude Code is not logged in or its login was revoked."


def test_authentication_failed_assistant_error_is_not_logged_in() -> None:
    state = TurnState()
    state.observe(AssistantMessage(content=[TextBlock(text="auth failed")], model=MODEL, error="authentication_failed"))
    error = failure(state, text="OAuth token revoked")
    assert error.kind is ErrorKind.NOT_LOGGED_IN


def test_403_is_permission_denied_not_a_login_problem_even_when_the_cli_calls_it_one() -> None:
    # The CLI reports a 403 as authentication_failed; the login works, it may not use this.
    state = TurnState()
    state.observe(AssistantMessage(content=[TextBlock(text="x")], model=MODEL, error="authentication_failed"))
    error = failure(state, api_error_status=403, text="API Error: 403 permission_error")
    assert error.kind is ErrorKind.PERMISSION_DENIED
    assert error.status == 403
    assert "permission_error" in error.message


@pytest.mark.parametrize(("status", "kind"), [(402, None), (400, "billing_error"), (None, "billing_error")])
def test_a_billing_error_is_403_about_the_subscriptions_billing(status: int | None, kind: str | None) -> None:
    state = TurnState()
    if kind:
        state.observe(AssistantMessage(content=[TextBlock(text="x")], model="<synthetic>", error=kind))  # type: ignore[arg-type]
    error = failure(state, api_error_status=status, text="Your credit balance is too low")
    assert error.kind is ErrorKind.BILLING
    assert error.status == 403
    assert "billing" in error.message
    assert "subscription" in error.message


@pytest.mark.parametrize("status", [408, 504])
def test_an_upstream_time_out_is_a_time_out(status: int) -> None:
    error = failure(TurnState(), api_error_status=status, text=f"API Error: {status}")
    assert error.kind is ErrorKind.TIMEOUT
    assert error.status == 504
    assert "timed out" in error.message


def test_an_unknown_model_is_404() -> None:
    state = TurnState()
    state.observe(AssistantMessage(content=[TextBlock(text="x")], model="<synthetic>", error="model_not_found"))  # type: ignore[arg-type]
    error = failure(state, api_error_status=404, text="There's an issue with the selected model")
    assert error.kind is ErrorKind.MODEL_NOT_FOUND
    assert error.status == 404


def test_429_with_a_rejected_rate_limit_event_is_a_usage_limit_with_retry_after() -> None:
    state = TurnState()
    state.observe(rejected(int(NOW) + 3600))
    error = failure(state, api_error_status=429, text="Claude AI usage limit reached")
    assert error.kind is ErrorKind.USAGE_LIMIT
    assert error.status == 429
    assert error.retry_after == pytest.approx(3600.0)
    assert "not a login problem" in error.message
    assert "2025-10-09T" in error.message  # the reset time, in UTC


def test_a_reset_time_already_past_still_asks_for_at_least_a_second() -> None:
    state = TurnState()
    state.observe(rejected(int(NOW) - 10))
    error = failure(state, api_error_status=429)
    assert error.retry_after == 1.0


def test_429_without_reset_time_is_not_called_a_usage_limit() -> None:
    error = failure(TurnState(), api_error_status=429, text="rate limited")
    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.status == 429
    assert error.retry_after is None
    assert "neither the subscription's usage limit nor a login problem" in error.message


def test_an_allowed_rate_limit_event_does_not_make_a_usage_limit() -> None:
    state = TurnState()
    state.observe(
        RateLimitEvent(
            rate_limit_info=RateLimitInfo(status="allowed_warning", resets_at=int(NOW) + 60, utilization=0.9),
            uuid="u",
            session_id="s",
        )
    )
    error = failure(state, api_error_status=500, text="Internal server error")
    assert error.kind is ErrorKind.UPSTREAM_ERROR


def test_529_is_overloaded() -> None:
    error = failure(TurnState(), api_error_status=529, text="Overloaded")
    assert error.kind is ErrorKind.OVERLOADED
    assert error.status == 503
    assert "Overloaded" in error.message


def test_500_is_an_upstream_error() -> None:
    error = failure(TurnState(), api_error_status=500, text="Internal server error")
    assert error.kind is ErrorKind.UPSTREAM_ERROR
    assert error.status == 503
    assert "500" in error.message


def test_400_is_a_bad_request_with_the_apis_reason() -> None:
    error = failure(TurnState(), api_error_status=400, text="prompt is too long: 250000 tokens > 200000 maximum")
    assert error.kind is ErrorKind.BAD_REQUEST
    assert error.status == 400
    assert "prompt is too long" in error.message


def test_error_detail_falls_back_to_the_errors_list() -> None:
    error = failure(TurnState(), api_error_status=500, errors=["socket hang up", "ECONNRESET"])
    assert "socket hang up; ECONNRESET" in error.message


def test_tokens_in_error_text_are_redacted() -> None:
    token = "sk-ant-oat01-AbC_dEf-123456789"
    error = failure(TurnState(), api_error_status=500, text=f"upstream echoed {token} back")
    assert token not in error.message
    assert "sk-ant-***" in error.message


def test_redact_blanks_every_anthropic_token() -> None:
    text = "key sk-ant-api03-xyz_ABC-1 and sk-ant-oat01-QQQ in one line"
    assert redact(text) == "key sk-ant-*** and sk-ant-*** in one line"
    assert redact("no secrets here") == "no secrets here"
