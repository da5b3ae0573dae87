"""The CLI gets an allow-listed environment: an API key, a provider switch or any other variable of the
process that starts it never reaches it, so a proxy may hold an ``ANTHROPIC_API_KEY`` for its ``anthropic/``
models and still serve ``claude-code/`` with the OAuth login."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.processes import claude_processes, environment
from claude_code_devkit.stack import FAKE_TOKEN, STRAY_ENV, Proxy, Runtime
from claude_code_devkit.waiting import wait_until

HI = [{"role": "user", "content": "hi"}]


def cli_environments_while_serving(
    fake: FakeAnthropic, client: openai.OpenAI, model: str, owner: int
) -> list[dict[str, str]]:
    """Ask ``model`` and read the environment of every CLI below ``owner`` while the answer is pending."""
    fake.enqueue(TextReply("served by OAuth", first_delay_s=2))
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(lambda: client.chat.completions.create(model=model, messages=HI))
        fake.wait_for_requests(1, timeout=60)
        environments = [
            environment(pid)
            for pid in wait_until(lambda: claude_processes(owner), timeout=10, ignore=(Exception,), interval=0.05)
        ]
        assert answer.result(timeout=60).choices[0].message.content == "served by OAuth"
    return environments


def assert_oauth_only(fake: FakeAnthropic, environments: list[dict[str, str]], home_config: str) -> None:
    sent = fake.messages_requests[0]
    assert sent.bearer_token == FAKE_TOKEN
    assert sent.api_key is None
    assert environments
    for env in environments:
        for name in STRAY_ENV:
            assert env.get(name, "") == "", f"{name} reached the CLI"
        assert env.get("LITELLM_MASTER_KEY", "") == ""
        assert env["PATH"]
        assert env["HOME"]
        assert env["ANTHROPIC_BASE_URL"] == fake.base_url
        assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
        assert env["CLAUDE_CONFIG_DIR"] == home_config


def test_stray_variables_in_the_runtime_environment_never_reach_the_cli(
    fake: FakeAnthropic, client: openai.OpenAI, runtimes: dict[str, Runtime]
) -> None:
    runtime = runtimes["stray"]

    environments = cli_environments_while_serving(fake, client, "stray/sonnet", runtime.process.pid)

    assert_oauth_only(fake, environments, str(runtime.config_dir))


def test_a_proxy_serving_anthropic_and_claude_code_models_keeps_its_api_key_to_itself(
    fake: FakeAnthropic, client: openai.OpenAI, proxy: Proxy
) -> None:
    environments = cli_environments_while_serving(fake, client, "sonnet", proxy.process.pid)
    assert_oauth_only(fake, environments, str(proxy.config_dir))

    # The same proxy's anthropic/ models use that key, as LiteLLM always does.
    fake.clear()
    fake.enqueue(TextReply("served by the API key"))
    reply = client.chat.completions.create(model="api/claude-sonnet-4-5", messages=HI)
    assert reply.choices[0].message.content == "served by the API key"
    assert fake.messages_requests[0].api_key == STRAY_ENV["ANTHROPIC_API_KEY"]
