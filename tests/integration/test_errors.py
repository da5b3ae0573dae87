"""Failures reach the OpenAI client with the right status and a message a person can act on."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import (
    ErrorReply,
    FakeAnthropic,
    Hang,
    TextReply,
    api_error,
    authentication_error,
    extra_usage_required_error,
    oauth_not_allowed_error,
    organization_disabled_error,
    overloaded_error,
    rate_limit_error,
    revoked_error,
)
from claude_code_devkit.processes import claude_processes, working_directory
from claude_code_devkit.stack import FAKE_TOKEN, Proxy, Runtime, start_proxy, write_proxy_config
from claude_code_devkit.waiting import wait_until
from claude_code_provider.auth.probe import find_cli

MODES = pytest.mark.parametrize("mode", ["", "remote/"], ids=["in-process", "runtime"])
HI = [{"role": "user", "content": "hi"}]


@MODES
def test_a_rejected_login_is_401_telling_how_to_log_in_again(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    # A revoked login is refused on every try (the CLI retries a 401 a few times).
    fake.enqueue(*[authentication_error("OAuth token has been revoked")] * 5)

    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=f"{mode}sonnet", messages=HI)

    assert caught.value.status_code == 401
    if mode:  # the runtime: a pod's login comes from a laptop, or from `claude auth login` inside the pod
        assert "then `kubectl claude-code login -n NAMESPACE --name NAME --token-stdin`" in caught.value.message
        assert "-c claude -- claude auth login`" in caught.value.message
    else:  # in the LiteLLM process: this machine's own login
        assert "Log in on this machine with `make login`" in caught.value.message
        assert "kubectl" not in caught.value.message


@MODES
def test_a_usage_limit_is_429_with_retry_after_until_the_reset(
    mode: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    resets_at = int(time.time()) + 3600
    fake.enqueue(rate_limit_error(reset_at=resets_at))

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=f"{mode}sonnet", messages=HI)

    assert caught.value.status_code == 429
    retry_after = int(caught.value.response.headers["retry-after"])
    assert 3500 <= retry_after <= 3600
    assert "The Claude subscription's five-hour usage limit is reached" in caught.value.message
    assert "not a login problem" in caught.value.message


@pytest.mark.parametrize(
    ("claim", "name"), [("seven_day", "weekly"), ("seven_day_opus", "weekly Opus")], ids=["weekly", "model"]
)
def test_a_usage_limit_names_the_window_that_was_hit(
    claim: str, name: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(rate_limit_error(claim=claim))

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="remote/sonnet", messages=HI)

    assert f"The Claude subscription's {name} usage limit is reached; it resets at" in caught.value.message


def test_a_429_without_a_usage_limit_is_429_and_not_called_one(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(rate_limit_error(subscriber=False, retry_after=30))

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="remote/sonnet", messages=HI)

    assert caught.value.status_code == 429
    assert "neither the subscription's usage limit nor a login problem" in caught.value.message


@MODES
@pytest.mark.parametrize(
    ("reply", "words"), [(overloaded_error(), "overloaded"), (api_error(status=500), "500")], ids=["529", "500"]
)
def test_upstream_trouble_is_503_and_not_a_usage_limit(
    mode: str, reply: object, words: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(reply)  # type: ignore[arg-type]

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=f"{mode}sonnet", messages=HI)

    assert caught.value.status_code == 503
    assert words in caught.value.message
    assert "usage limit" not in caught.value.message


def test_a_missing_cli_is_500_naming_the_path_searched(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="nocli/sonnet", messages=HI)

    assert caught.value.status_code == 500
    assert "/nonexistent/bin/claude" in caught.value.message


def test_a_crashed_cli_is_502_with_its_stderr_tail_and_no_token(
    fake: FakeAnthropic, start: Callable[..., Runtime], tmp_path: Path
) -> None:
    # The real CLI, started through a script that first writes a line with a token to its stderr.
    cli = find_cli(None)
    assert cli is not None
    noisy = tmp_path / "claude"
    noisy.write_text(f'#!/bin/sh\necho "starting with {FAKE_TOKEN} as the login (noisy line)" >&2\nexec {cli} "$@"\n')
    noisy.chmod(0o755)
    runtime = start(env={"CLAUDE_CODE_CLI_PATH": str(noisy), "CLAUDE_CODE_POOL_SIZE": "0"})
    fake.enqueue(Hang())
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(runtime.complete, {"model": "sonnet", "messages": HI})
        fake.wait_for_requests(1, timeout=30)
        for pid in claude_processes(runtime.process.pid):
            os.kill(pid, signal.SIGKILL)
        response = pending.result(timeout=60)

    assert response.status_code == 502
    message = response.json()["message"]
    assert "Claude Code" in message
    # The stderr tail is there, with the token blanked in place.
    assert "stderr:" in message
    assert "starting with sk-ant-*** as the login (noisy line)" in message.split("stderr:", 1)[1]
    assert FAKE_TOKEN not in message
    assert FAKE_TOKEN.removeprefix("sk-ant-") not in message


def test_an_upstream_that_never_answers_is_504_within_the_idle_time_out(
    fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(Hang())
    started = time.monotonic()

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="slow/sonnet", messages=HI)

    assert caught.value.status_code == 504
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("mode", ["", "remote/"], ids=["in-process", "runtime"])
def test_a_client_that_leaves_mid_stream_leaves_no_cli_behind(
    mode: str, fake: FakeAnthropic, proxy: Proxy, runtimes: dict[str, Runtime]
) -> None:
    owner = runtimes["remote"].process.pid if mode else proxy.process.pid
    fake.enqueue(TextReply(["first"] + ["more"] * 20, delay_s=0.5))
    with httpx.stream(
        "POST",
        proxy.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {proxy.key}"},
        json={"model": f"{mode}sonnet", "messages": HI, "stream": True},
        timeout=60,
        trust_env=False,
    ) as response:
        for line in response.iter_lines():
            if "first" in line:
                break
        # The CLI serving this request works in the scratch directory it told the model about.
        scratch = re.search(r"Primary working directory: ([^\s\\\"]+)", json.dumps(fake.messages_requests[0].json))
        assert scratch is not None
        serving = [p for p in claude_processes(owner) if working_directory(p) == scratch.group(1)]
        assert len(serving) == 1, "exactly one CLI serves the request while it streams"

    wait_until(
        lambda: not Path(f"/proc/{serving[0]}").exists(),
        timeout=20,
        what="the serving CLI gone",
        ignore=(Exception,),
        interval=0.05,
    )


def test_an_api_key_in_the_litellm_config_is_refused(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="keyed/sonnet", messages=HI)

    assert "api_key" in caught.value.message
    assert "anthropic/" in caught.value.message
    assert fake.requests == []


def test_requests_over_the_in_flight_limit_get_429_at_once(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply(["slow"] * 4, delay_s=0.5))
    first_started = threading.Event()

    def slow() -> str | None:
        first_started.set()
        return client.chat.completions.create(model="single/sonnet", messages=HI).choices[0].message.content

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(slow)
        first_started.wait(5)
        fake.wait_for_requests(1, timeout=30)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="single/sonnet", messages=HI)
        assert first.result(timeout=60) == "slow" * 4

    assert "at once" in caught.value.message
    assert "0 more are waiting" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "1"


def test_in_process_requests_over_the_in_flight_limit_get_429_at_once(fake: FakeAnthropic, tmp_path: Path) -> None:
    # The proxy runs the CLI itself here, under the runtime's limits: one at a time, none waiting.
    root = tmp_path / "proxy"
    root.mkdir()
    config = write_proxy_config(
        root / "litellm.yaml", [{"model_name": "*", "litellm_params": {"model": "claude-code/*"}}]
    )
    limits = {"CLAUDE_RUNTIME_MAX_IN_FLIGHT": "1", "CLAUDE_RUNTIME_MAX_QUEUED": "0", "CLAUDE_CODE_POOL_SIZE": "0"}
    proxy = start_proxy(fake, root, config, env=limits)
    try:
        client = proxy.client()
        fake.enqueue(TextReply(["slow"] * 4, delay_s=0.5))
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.chat.completions.create, model="sonnet", messages=HI)
            fake.wait_for_requests(1, timeout=60)
            with pytest.raises(openai.RateLimitError) as caught:
                client.chat.completions.create(model="sonnet", messages=HI)
            assert len(claude_processes(proxy.process.pid)) == 1
            assert first.result(timeout=60).choices[0].message.content == "slow" * 4
    finally:
        proxy.process.stop()

    assert "1 requests at once" in caught.value.message
    assert "0 more are waiting" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "1"
    assert len(fake.messages_requests) == 1


@MODES
@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        (revoked_error(), 401, "Anthropic revoked this login (OAuth token revoked"),
        (oauth_not_allowed_error(), 403, "does not allow Claude subscription (OAuth) logins for Claude Code"),
        (organization_disabled_error(), 403, "Anthropic has disabled the organization of this login"),
        (extra_usage_required_error(), 403, "This request needs extra usage"),
    ],
    ids=["revoked", "oauth-not-allowed", "organization-disabled", "extra-usage"],
)
def test_account_refusals_have_their_own_status_and_message(
    mode: str, reply: ErrorReply, status: int, words: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(*[reply] * 3)  # a revoked token is sent twice (the CLI refreshes and tries again)

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=f"{mode}sonnet", messages=HI)

    assert caught.value.status_code == status
    assert words in caught.value.message


@MODES
@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        (ErrorReply(403, "permission_error", "This model is not available on your plan."), 403, "not available"),
        (ErrorReply(402, "billing_error", "Your subscription is past due."), 403, "billing"),
        (ErrorReply(408, "request_timeout", "Request timed out."), 504, "timed out"),
        (ErrorReply(404, "not_found_error", "model: claude-nonexistent"), 404, "no model by that name"),
    ],
    ids=["403", "402", "408", "404"],
)
def test_upstream_refusals_keep_their_meaning(
    mode: str, reply: ErrorReply, status: int, words: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(*[reply] * 3)

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=f"{mode}sonnet", messages=HI)

    assert caught.value.status_code == status
    assert words in caught.value.message


@MODES
def test_a_lone_surrogate_in_the_conversation_is_a_400(mode: str, fake: FakeAnthropic, proxy: Proxy) -> None:
    messages = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "bad \ud800"}, *HI]
    response = httpx.post(
        proxy.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {proxy.key}", "content-type": "application/json"},
        content=json.dumps({"model": f"{mode}sonnet", "messages": messages}),  # "\ud800" escaped, as JSON allows
        timeout=60,
        trust_env=False,
    )

    # LiteLLM's proxy already refuses it; the runtime and the Python SDK path refuse it themselves.
    assert response.status_code == 400
    assert "surrogate" in response.text
    assert fake.messages_requests == []


def test_a_lone_surrogate_sent_to_the_runtime_is_a_400(fake: FakeAnthropic, runtimes: dict[str, Runtime]) -> None:
    body = {
        "model": "sonnet",
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "\udfff"},
            {"role": "user", "content": "two"},
        ],
    }
    runtime = runtimes["remote"]
    response = httpx.post(
        runtime.api_url + "/v1/complete",
        content=json.dumps(body),  # "\udfff" escaped, as JSON allows
        headers={"authorization": f"Bearer {runtime.token}", "content-type": "application/json"},
        timeout=60,
        trust_env=False,
    )

    assert response.status_code == 400
    assert "surrogate" in response.json()["message"]
    assert fake.messages_requests == []


def test_runtime_failures_are_counted_in_its_metrics(fake: FakeAnthropic, start: Callable[..., Runtime]) -> None:
    runtime = start()
    fake.enqueue(ErrorReply(403, "permission_error", "no"))
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "x"}]}
    refused = runtime.complete(body)
    invalid = runtime.complete({"model": "sonnet"})

    assert (refused.status_code, invalid.status_code) == (403, 400)
    assert runtime.metric("claude_code_requests_total", outcome="permission_denied") == 1
    assert runtime.metric("claude_code_upstream_errors_total", kind="permission_denied") == 1
    assert runtime.metric("claude_code_requests_total", outcome="bad_request") == 1
