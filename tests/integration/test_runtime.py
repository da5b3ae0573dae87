"""The in-pod runtime: its completion API, health, readiness and auth status, and the login it installs."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from claude_code_devkit.fakes.anthropic_api import (
    DropMidStream,
    FakeAnthropic,
    TextReply,
    authentication_error,
    organization_disabled_error,
    rate_limit_error,
)
from claude_code_devkit.stack import FAKE_TOKEN, Runtime
from claude_code_devkit.waiting import wait_until

HI = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
EXPIRES_MS = 1_900_000_000_000


def complete(runtime: Runtime, body: dict[str, object] = HI) -> httpx.Response:
    return runtime.complete(body)


def events(response: httpx.Response) -> list[dict[str, object]]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def credentials(access: str = "sk-ant-oat01-" + "a" * 30) -> str:
    return json.dumps(
        {
            "claudeAiOauth": {
                "accessToken": access,
                "refreshToken": "sk-ant-ort01-" + "r" * 30,
                "expiresAt": EXPIRES_MS,
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "max",
            }
        }
    )


def test_completion_api_streams_ndjson_events(fake: FakeAnthropic, runtimes: dict[str, Runtime]) -> None:
    fake.enqueue(TextReply(["a", "b"]))

    response = complete(runtimes["remote"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    got = events(response)
    assert [e["text"] for e in got if e["type"] == "text"] == ["a", "b"]
    assert got[-1]["type"] == "finish"


def test_an_answer_broken_off_mid_stream_ends_in_an_error_not_a_repeated_answer(
    fake: FakeAnthropic, runtimes: dict[str, Runtime]
) -> None:
    fake.enqueue(DropMidStream(["Half an ans"]), TextReply(["Half an answer, again."]))

    got = events(complete(runtimes["retrying"]))

    assert [e["text"] for e in got if e["type"] == "text"] == ["Half an ans"]
    assert got[-1]["type"] == "error"
    assert got[-1]["kind"] == "upstream_error"


def test_invalid_requests_get_400_naming_the_problem(runtimes: dict[str, Runtime]) -> None:
    response = complete(runtimes["remote"], {"model": "sonnet", "messages": [{"role": "assistant", "content": "x"}]})

    assert response.status_code == 400
    assert "last message must come from the user" in response.json()["message"]


def test_auth_status_of_a_setup_token_login(start: Callable[..., Runtime]) -> None:
    # A runtime of its own: the shared ones' last request (an error test's refusal) decides loggedIn there.
    runtime = start()

    status = runtime.get("/auth/status")

    assert status.status_code == 200
    body = status.json()
    assert body["loggedIn"] is True
    assert body["authMethod"] == "oauth_token"
    assert body["cliVersion"].startswith("2.")
    assert FAKE_TOKEN not in status.text
    assert runtime.get("/healthz").status_code == 200
    assert runtime.get("/readyz").status_code == 200


def test_a_credentials_file_login_is_copied_private_and_reported(start: Callable[..., Runtime]) -> None:
    state = json.dumps({"hasCompletedOnboarding": True, "userID": "u"})
    runtime = start(login={".credentials.json": credentials(), ".claude.json": state})

    body = runtime.get("/auth/status").json()

    assert body["loggedIn"] is True
    assert body["authMethod"] == "claude.ai"
    assert body["subscriptionType"] == "max"
    assert body["tokenExpiresAt"].startswith("2030-03-17")
    for name in (".credentials.json", ".claude.json"):
        copied = runtime.config_dir / name
        assert stat.S_IMODE(copied.stat().st_mode) == 0o600
    assert json.loads((runtime.config_dir / ".credentials.json").read_text()) == json.loads(credentials())


def test_a_revoked_login_turns_not_ready_though_the_cli_still_says_logged_in(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start()
    fake.enqueue(*[authentication_error("OAuth token has been revoked")] * 5)

    assert complete(runtime).status_code == 401

    body = runtime.get("/auth/status").json()
    assert body["loggedIn"] is False
    assert body["lastRequest"]["result"] == "unauthorized"
    assert "rejected" in body["reason"]
    assert runtime.get("/readyz").status_code == 503


def test_a_disabled_organization_turns_not_ready_and_says_so(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start()
    fake.enqueue(organization_disabled_error())

    answer = complete(runtime)

    assert answer.status_code == 403
    assert answer.json()["kind"] == "organization_disabled"
    body = runtime.get("/auth/status").json()
    assert (body["loggedIn"], body["lastRequest"]["kind"]) == (False, "organization_disabled")
    assert body["reason"] == "Anthropic rejected the login on the last request: its organization has been disabled."
    assert runtime.get("/readyz").status_code == 503


def test_a_rejected_login_recovers_once_the_secret_holds_a_new_one(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_WARM_MODELS": "sonnet"})
    fake.enqueue(*[authentication_error("OAuth token has been revoked")] * 5)
    assert complete(runtime).status_code == 401
    assert runtime.get("/readyz").status_code == 503

    renewed = "sk-ant-oat01-" + "n" * 40
    (runtime.login_dir / "oauth-token").write_text(renewed)

    wait_until(
        lambda: runtime.get("/readyz").status_code == 200,
        timeout=30,
        what="ready again",
        ignore=(Exception,),
        interval=0.05,
    )
    assert runtime.get("/auth/status").json()["lastRequest"] is None
    fake.clear()
    assert complete(runtime).status_code == 200
    # Served with the new login, also by a warm process started before the change.
    assert [r.bearer_token for r in fake.messages_requests] == [renewed]


def test_a_rejected_login_is_checked_again_after_the_refresh_interval(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_RUNTIME_AUTH_REFRESH_SECONDS": "5"})
    fake.enqueue(*[authentication_error("OAuth token has been revoked")] * 5)
    assert complete(runtime).status_code == 401
    assert runtime.get("/readyz").status_code == 503

    # Nothing changed, but the pod must not stay unready forever: the verdict is re-checked by itself.
    wait_until(
        lambda: runtime.get("/readyz").status_code == 200,
        timeout=30,
        what="ready again",
        ignore=(Exception,),
        interval=0.05,
    )
    assert runtime.get("/auth/status").json()["loggedIn"] is True


def test_a_usage_limit_is_not_a_login_problem_and_a_later_success_clears_it(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start()
    resets_at = int(time.time()) + 1800
    fake.enqueue(rate_limit_error(reset_at=resets_at))

    limited = complete(runtime)

    assert limited.status_code == 429
    assert 1700 <= int(limited.headers["retry-after"]) <= 1800
    body = runtime.get("/auth/status").json()
    assert body["loggedIn"] is True
    assert body["lastRequest"]["result"] == "rate_limited"
    assert (body["lastRequest"]["window"], body["rateLimitedWindow"]) == ("five_hour", "five_hour")
    until = datetime.fromisoformat(body["rateLimitedUntil"])
    assert until.utcoffset() == timedelta(0)  # a UTC time, whatever this machine's zone
    assert abs(until.timestamp() - resets_at) < 5
    assert runtime.get("/readyz").status_code == 200

    assert complete(runtime).status_code == 200
    body = runtime.get("/auth/status").json()
    assert body["lastRequest"]["result"] == "ok"
    assert body["rateLimitedUntil"] is None


def test_a_malformed_login_secret_keeps_the_runtime_up_and_says_what_is_wrong(start: Callable[..., Runtime]) -> None:
    runtime = start(login={".credentials.json": "{not json"})

    body = runtime.get("/auth/status").json()

    assert body["loggedIn"] is False
    assert ".credentials.json" in body["reason"]
    assert "not valid JSON" in body["reason"]
    ready = runtime.get("/readyz")
    assert ready.status_code == 503
    assert ".credentials.json" in ready.json()["reason"]
    refused = complete(runtime)
    assert refused.status_code == 401
    assert "not valid JSON" in refused.json()["message"]
    assert "claude setup-token" in refused.json()["message"]


def test_an_empty_login_secret_is_not_ready_and_names_the_expected_keys(start: Callable[..., Runtime]) -> None:
    runtime = start(login={})

    body = runtime.get("/auth/status").json()

    assert body["loggedIn"] is False
    assert "oauth-token" in body["reason"]
    assert ".credentials.json" in body["reason"]


def test_history_transcripts_are_removed_after_the_request_and_when_they_cannot_be_written(
    fake: FakeAnthropic, runtimes: dict[str, Runtime]
) -> None:
    runtime = runtimes["remote"]
    history = [
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": "now"},
    ]
    fake.enqueue(TextReply("with history"))

    answered = complete(runtime, {"model": "sonnet", "messages": history})
    # A lone surrogate is valid JSON but cannot be written as UTF-8.
    broken = complete(runtime, {"model": "sonnet", "messages": [{"role": "user", "content": "\ud800"}, *history[1:]]})

    assert [e["text"] for e in events(answered) if e["type"] == "text"] == ["with history"]
    assert "earlier answer" in json.dumps(fake.messages_requests[0].chat_messages)
    assert broken.status_code != 200
    assert len(fake.messages_requests) == 1
    wait_until(
        lambda: not list((runtime.config_dir / "projects").glob("*/*.jsonl")),
        timeout=20,
        what="no transcript left",
        ignore=(Exception,),
        interval=0.05,
    )
