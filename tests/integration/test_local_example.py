"""The README's local example: `litellm --config examples/litellm-config.yaml` on a laptop after `claude auth login`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.paths import REPO
from claude_code_devkit.stack import Proxy, start_proxy

EXAMPLE = REPO / "examples" / "litellm-config.yaml"
ACCESS_TOKEN = "sk-ant-oat01-" + "l" * 40


@pytest.fixture(scope="module")
def laptop_proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    root = tmp_path_factory.mktemp("laptop")
    # What `claude auth login` leaves behind: ~/.claude/.credentials.json; no CLAUDE_CONFIG_DIR is set.
    claude_dir = root / "home" / ".claude"
    claude_dir.mkdir(parents=True)
    (claude_dir / ".credentials.json").write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": ACCESS_TOKEN,
                    "refreshToken": "sk-ant-ort01-" + "r" * 40,
                    "expiresAt": 1_900_000_000_000,
                    "scopes": ["user:inference", "user:profile"],
                    "subscriptionType": "pro",
                }
            }
        )
    )
    proxy = start_proxy(fake, root, EXAMPLE, login={})
    yield proxy
    proxy.process.stop()


@pytest.mark.parametrize("model", ["sonnet", "opus", "haiku"])
def test_the_example_config_serves_the_laptops_own_login(model: str, fake: FakeAnthropic, laptop_proxy: Proxy) -> None:
    fake.enqueue(TextReply("Hi from the laptop."))

    reply = laptop_proxy.client().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])

    assert reply.choices[0].message.content == "Hi from the laptop."
    sent = fake.messages_requests[0]
    assert sent.bearer_token == ACCESS_TOKEN
    assert sent.model.startswith(f"claude-{model}-")


def test_a_wrong_key_is_a_401_that_says_so(fake: FakeAnthropic, laptop_proxy: Proxy) -> None:
    stranger = openai.OpenAI(base_url=laptop_proxy.url + "/v1", api_key="sk-someone-else", max_retries=0)

    # Not LiteLLM's 400 "No connected db." (it would look the key up in a database of virtual keys).
    with pytest.raises(openai.AuthenticationError) as caught:
        stranger.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401
    assert "The API key is wrong" in caught.value.message
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()
    assert fake.requests == []


def test_a_request_without_a_key_is_a_401_that_says_so(fake: FakeAnthropic, laptop_proxy: Proxy) -> None:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}

    answer = httpx.post(laptop_proxy.url + "/v1/chat/completions", json=body, timeout=30, trust_env=False)

    assert answer.status_code == 401
    assert "No API key was sent" in answer.json()["error"]["message"]
    assert fake.requests == []


def test_the_example_endpoint_lists_its_models_for_the_master_key(laptop_proxy: Proxy) -> None:
    assert {model.id for model in laptop_proxy.client().models.list()} == {"sonnet", "opus", "haiku"}


def test_the_example_config_names_only_claude_code_models() -> None:
    import yaml

    config = yaml.safe_load(Path(EXAMPLE).read_text())

    assert {m["litellm_params"]["model"].split("/")[0] for m in config["model_list"]} == {"claude-code"}
