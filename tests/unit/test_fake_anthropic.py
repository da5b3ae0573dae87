"""The fake Anthropic Messages API behaves like the real one at the HTTP level."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from claude_code_devkit.fakes.anthropic_api import (
    DropMidStream,
    FakeAnthropic,
    Hang,
    TextReply,
    ToolReply,
    ToolUse,
    Usage,
    api_error,
    authentication_error,
    cli_env,
    overloaded_error,
    rate_limit_error,
    thinking_refusal,
)

BODY = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [{"role": "user", "content": "hi"}],
    "metadata": {"user_id": "u1"},
    "tools": [],
}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def _sse_events(raw: str) -> list[tuple[str, dict]]:
    events = []
    for chunk in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def _read_lines_into(seen: list[str], fake: FakeAnthropic, timeout: float) -> None:
    url = f"{fake.base_url}/v1/messages"
    with httpx.stream("POST", url, json={**BODY, "stream": True}, timeout=timeout) as r:
        seen.extend(r.iter_lines())


def test_base_url_is_loopback_and_stop_frees_the_port() -> None:
    server = FakeAnthropic().start()
    assert server.base_url.startswith("http://127.0.0.1:")
    port = server.port
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_streaming_event_order_and_usage(fake: FakeAnthropic) -> None:
    fake.enqueue(TextReply(["Hel", "lo"], usage=Usage(12, 3, 4, 5), stop_reason="max_tokens"))
    r = httpx.post(f"{fake.base_url}/v1/messages?beta=true", json={**BODY, "stream": True}, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["request-id"].startswith("req_")
    assert r.headers["anthropic-ratelimit-unified-status"] == "allowed"
    events = _sse_events(r.text)
    names = [e for e, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["model"] == BODY["model"]
    assert start["usage"]["input_tokens"] == 12
    assert start["usage"]["cache_creation_input_tokens"] == 4
    assert start["usage"]["cache_read_input_tokens"] == 5
    assert [d["delta"] for _, d in events[3:5]] == [
        {"type": "text_delta", "text": "Hel"},
        {"type": "text_delta", "text": "lo"},
    ]
    delta = events[6][1]
    assert delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 3


def test_streaming_is_incremental(fake: FakeAnthropic) -> None:
    fake.enqueue(TextReply(["a", "b", "c"], first_delay_s=0.3, delay_s=0.3))
    arrivals: list[float] = []
    t0 = time.monotonic()
    with httpx.stream("POST", f"{fake.base_url}/v1/messages", json={**BODY, "stream": True}, timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and '"text_delta"' in line:
                arrivals.append(time.monotonic() - t0)
    assert len(arrivals) == 3
    assert arrivals[0] >= 0.25
    assert arrivals[2] - arrivals[0] >= 0.5


def test_non_streaming_json(fake: FakeAnthropic) -> None:
    fake.enqueue(TextReply(["Hel", "lo"], usage=Usage(1, 2, 3, 4)))
    r = httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=10)
    body = r.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": "Hello"}]
    assert body["stop_reason"] == "end_turn"
    assert {k: body["usage"][k] for k in Usage().as_dict() if k.endswith("tokens")} == {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 4,
    }


@pytest.mark.parametrize(
    ("reply", "status", "error_type"),
    [
        (authentication_error(), 401, "authentication_error"),
        (overloaded_error(), 529, "overloaded_error"),
        (api_error(), 500, "api_error"),
    ],
)
def test_error_bodies(fake: FakeAnthropic, reply, status: int, error_type: str) -> None:
    fake.enqueue(reply)
    r = httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=10)
    assert r.status_code == status
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str)
    assert body["request_id"] == r.headers["request-id"]


def test_authentication_error_tells_the_client_not_to_retry(fake: FakeAnthropic) -> None:
    fake.enqueue(authentication_error())
    r = httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=10)
    assert r.headers["x-should-retry"] == "false"


def test_rate_limit_headers(fake: FakeAnthropic) -> None:
    reset = int(time.time()) + 600
    fake.enqueue(rate_limit_error(reset_at=reset))
    r = httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=10)
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert r.headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert r.headers["anthropic-ratelimit-unified-reset"] == str(reset)
    assert r.headers["anthropic-ratelimit-unified-representative-claim"] == "five_hour"
    assert 590 <= int(r.headers["retry-after"]) <= 600


def test_records_requests(fake: FakeAnthropic) -> None:
    raw = gzip.compress(json.dumps({**BODY, "stream": True}).encode())
    httpx.post(
        f"{fake.base_url}/v1/messages?beta=true",
        content=raw,
        headers={
            "content-encoding": "gzip",
            "content-type": "application/json",
            "authorization": "Bearer sk-ant-oat01-x",
            "anthropic-beta": "oauth-2025-04-20",
        },
        timeout=10,
    )
    httpx.post(f"{fake.base_url}/v1/messages/count_tokens", json=BODY, timeout=10)
    assert fake.paths == ["POST /v1/messages", "POST /v1/messages/count_tokens"]
    (req,) = fake.messages_requests
    assert req.query == {"beta": "true"}
    assert req.model == BODY["model"]
    assert req.system_text == "Be brief."
    assert req.messages == BODY["messages"]
    assert req.max_tokens == 64
    assert req.tools == []
    assert req.stream is True
    assert req.metadata == {"user_id": "u1"}
    assert req.bearer_token == "sk-ant-oat01-x"
    assert req.headers["anthropic-beta"] == "oauth-2025-04-20"


def test_queue_then_responder_then_default(fake: FakeAnthropic) -> None:
    fake.enqueue(TextReply("first"))
    fake.responder = lambda req: TextReply(f"echo {req.messages[-1]['content']}")
    texts = [
        httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=10).json()["content"][0]["text"] for _ in range(2)
    ]
    assert texts == ["first", "echo hi"]


def test_hang_before_headers_times_out_the_client(fake: FakeAnthropic) -> None:
    fake.enqueue(Hang())
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=0.5)


def test_hang_after_message_start(fake: FakeAnthropic) -> None:
    fake.enqueue(Hang(after="message_start"))
    seen: list[str] = []
    with pytest.raises(httpx.ReadTimeout):
        _read_lines_into(seen, fake, timeout=0.5)
    assert any("message_start" in line for line in seen)


def test_drop_mid_stream(fake: FakeAnthropic) -> None:
    fake.enqueue(DropMidStream(["partial"]))
    seen: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        _read_lines_into(seen, fake, timeout=5)
    assert any('"partial"' in line for line in seen)
    assert not any("message_stop" in line for line in seen)


def test_unknown_paths_are_recorded_and_404(fake: FakeAnthropic) -> None:
    r = httpx.get(f"{fake.base_url}/nope", timeout=5)
    assert r.status_code == 404
    assert r.json()["type"] == "error"
    assert fake.paths == ["GET /nope"]


def test_api_key_style_rate_limit_has_no_unified_headers(fake: FakeAnthropic) -> None:
    fake.enqueue(rate_limit_error(subscriber=False, retry_after=1))
    r = httpx.post(f"{fake.base_url}/v1/messages", json=BODY, timeout=10)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert not any(h.startswith("anthropic-ratelimit-unified") for h in r.headers)


def test_chat_messages_skip_the_cli_system_entries(fake: FakeAnthropic) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
    ]
    httpx.post(f"{fake.base_url}/v1/messages", json={**BODY, "messages": messages}, timeout=10)
    (req,) = fake.messages_requests
    assert [m["role"] for m in req.chat_messages] == ["user", "assistant", "user"]


def test_cli_env_points_only_at_loopback(fake: FakeAnthropic, tmp_path) -> None:
    env = cli_env(fake, tmp_path)
    assert env["ANTHROPIC_BASE_URL"] == fake.base_url
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == "http://127.0.0.1:9"
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / ".claude")
    assert env["CLAUDE_CODE_OAUTH_TOKEN"].startswith("sk-ant-oat01-")
    assert env["ANTHROPIC_API_KEY"] == ""


def test_a_tool_answer_streams_two_tool_use_blocks_as_input_json_pieces(fake: FakeAnthropic) -> None:
    calls = [
        ToolUse("mcp__t__a", {"x": 1}, id="toolu_1", pieces=['{"x"', ": 1}"]),
        ToolUse("mcp__t__b", {"y": "z"}, id="toolu_2"),
    ]
    fake.enqueue(ToolReply(calls, text="On it."), ToolReply(calls))

    first = _sse_events(httpx.post(f"{fake.base_url}/v1/messages", json={**BODY, "stream": True}).text)
    second = _sse_events(httpx.post(f"{fake.base_url}/v1/messages", json={**BODY, "stream": True}).text)

    kinds = [
        (name, data.get("index"), (data.get("delta") or data.get("content_block") or {}).get("type"))
        for name, data in first
    ]
    assert kinds == [
        ("message_start", None, None),
        ("content_block_start", 0, "text"),
        ("ping", None, None),
        ("content_block_delta", 0, "text_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "tool_use"),
        ("content_block_delta", 1, "input_json_delta"),
        ("content_block_delta", 1, "input_json_delta"),
        ("content_block_delta", 1, "input_json_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    assert first[5][1]["content_block"] == {"type": "tool_use", "id": "toolu_1", "name": "mcp__t__a", "input": {}}
    assert [d["delta"]["partial_json"] for _, d in first[6:9]] == ["", '{"x"', ": 1}"]
    assert "".join(d["delta"]["partial_json"] for _, d in first[11:15]) == '{"y":"z"}'
    assert first[16][1]["delta"]["stop_reason"] == "tool_use"
    # Every answer is a message of its own (the CLI merges messages that share an id).
    assert first[0][1]["message"]["id"] != second[0][1]["message"]["id"]


def test_a_tool_answer_whole(fake: FakeAnthropic) -> None:
    fake.enqueue(ToolReply([ToolUse("mcp__t__a", {"x": 1}, id="toolu_1")]))

    body = httpx.post(f"{fake.base_url}/v1/messages", json={**BODY, "tools": [{"name": "mcp__t__a"}]}).json()

    assert (body["stop_reason"], body["content"]) == (
        "tool_use",
        [{"type": "tool_use", "id": "toolu_1", "name": "mcp__t__a", "input": {"x": 1}}],
    )
    assert fake.messages_requests[0].tool_names == ["mcp__t__a"]


CALL = {"type": "tool_use", "id": "toolu_9", "name": "mcp__t__a", "input": {"x": 1}}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]}
THOUGHT = {"type": "thinking", "thinking": "A lookup.", "signature": "EqSig"}
MISSING_THINKING = (
    "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` "
    "is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To "
    "avoid this requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def _round(assistant: list[dict], thinking: dict | None) -> dict:
    body: dict = {**BODY, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": assistant}]}
    body["messages"].append(RESULT)
    if thinking is not None:
        body["thinking"] = thinking
    return body


@pytest.mark.parametrize(
    "thinking", [{"type": "adaptive"}, {"type": "enabled", "budget_tokens": 2048}], ids=["adaptive", "enabled"]
)
def test_with_thinking_on_tool_results_need_the_calling_message_to_start_with_its_thinking(thinking: dict) -> None:
    refusal = thinking_refusal(_round([CALL], thinking))

    assert refusal is not None
    assert (refusal.status, refusal.error_type, refusal.message) == (400, "invalid_request_error", MISSING_THINKING)
    assert thinking_refusal(_round([THOUGHT, CALL], thinking)) is None
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    assert thinking_refusal(_round([redacted, CALL], thinking)) is None
    # Text before the calls is no thinking either.
    text = thinking_refusal(_round([{"type": "text", "text": "On it."}, CALL], thinking))
    assert text is not None
    assert "but found `text`" in text.message


def test_with_thinking_off_tool_results_need_no_thinking_and_a_new_user_turn_never_does() -> None:
    assert thinking_refusal(_round([CALL], None)) is None
    assert thinking_refusal(_round([CALL], {"type": "disabled"})) is None
    # Thinking earlier in the history is allowed with thinking off (the API ignores it).
    assert thinking_refusal(_round([THOUGHT, CALL], {"type": "disabled"})) is None
    after = _round([CALL], {"type": "adaptive"})
    after["messages"].append({"role": "assistant", "content": [{"type": "text", "text": "1."}]})
    after["messages"].append({"role": "user", "content": "thanks"})
    assert thinking_refusal(after) is None


def test_adaptive_thinking_takes_back_an_answer_the_model_gave_without_thinking_but_enabled_does_not() -> None:
    assert thinking_refusal(_round([CALL], {"type": "adaptive"}), unthought={"toolu_9"}) is None
    enabled = thinking_refusal(_round([CALL], {"type": "enabled", "budget_tokens": 2048}), unthought={"toolu_9"})
    assert enabled is not None
    assert enabled.message == MISSING_THINKING


def test_with_thinking_off_a_final_assistant_message_cannot_carry_thinking() -> None:
    prefill = {**BODY, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [THOUGHT]}]}

    refusal = thinking_refusal(prefill)

    assert refusal is not None
    assert (refusal.status, refusal.error_type, refusal.message) == (
        400,
        "invalid_request_error",
        "messages.1.content.0.type: When `thinking` is disabled, an `assistant` message in the final position "
        "cannot contain `thinking`.",
    )
    assert thinking_refusal({**prefill, "thinking": {"type": "adaptive"}}) is None


def test_a_request_refused_for_its_thinking_gets_the_400_and_leaves_the_scripted_answer(fake: FakeAnthropic) -> None:
    fake.enqueue(ToolReply([ToolUse("mcp__t__a", {"x": 1}, id="toolu_8")]), TextReply("Done."))
    url = f"{fake.base_url}/v1/messages"
    adaptive = {"type": "adaptive"}
    dropped = httpx.post(url, json=_round([CALL], adaptive))

    assert dropped.status_code == 400
    assert dropped.json()["error"] == {"type": "invalid_request_error", "message": MISSING_THINKING}
    assert fake.pending == 2
    # The model's own answer without thinking goes back as it was, and is answered (clear keeps it).
    httpx.post(url, json=BODY)
    fake.clear()
    fake.enqueue(TextReply("Done."))
    own = {**CALL, "id": "toolu_8"}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_8", "content": "1"}]}
    body = {**BODY, "thinking": adaptive, "messages": [BODY["messages"][0], {"role": "assistant", "content": [own]}]}
    body["messages"].append(result)
    answered = httpx.post(url, json=body)
    assert answered.status_code == 200
    assert answered.json()["content"] == [{"type": "text", "text": "Done."}]
