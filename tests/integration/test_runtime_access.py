"""The completion API serves only the pod's LiteLLM container: the runtime token and a loopback Host."""

from __future__ import annotations

import secrets
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest
from tests.integration.conftest import OTHERTOKEN_LOGIN

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.paths import VENV_BIN
from claude_code_devkit.processes import claude_processes
from claude_code_devkit.stack import Runtime, cli_env

MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "hi"}]
HI = {"model": "sonnet", "messages": MESSAGES}
NO_POOL = {"CLAUDE_CODE_POOL_SIZE": "0"}


def post(runtime: Runtime, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(runtime.api_url + "/v1/complete", json=HI, headers=headers, timeout=60, trust_env=False)


def start_with_own_login(start: Callable[..., Runtime]) -> tuple[Runtime, str]:
    """A runtime whose login no other test uses: the session's fake upstream may still receive a request
    another test's CLI sent before it was stopped, so "nothing reached the upstream" is judged by login."""
    login = f"sk-ant-oat01-access-{secrets.token_hex(8)}"
    return start(env=NO_POOL, login={"oauth-token": login}), login


def sent_with(fake: FakeAnthropic, login: str) -> list[object]:
    return [r for r in fake.requests if r.bearer_token == login]


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong-token"}, {"authorization": "Basic abc"}],
    ids=["no token", "wrong token", "not a bearer token"],
)
def test_a_request_without_the_runtime_token_is_401_and_starts_no_cli(
    fake: FakeAnthropic, start: Callable[..., Runtime], headers: dict[str, str]
) -> None:
    runtime, login = start_with_own_login(start)

    response = post(runtime, headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["kind"] == "runtime_refused"
    assert "CLAUDE_RUNTIME_TOKEN" in response.json()["message"]
    assert runtime.token not in response.text
    assert claude_processes(runtime.process.pid) == []
    assert sent_with(fake, login) == []


@pytest.mark.parametrize("host", ["evil.example:8081", "evil.example", "10.1.2.3:8081"])
def test_a_request_for_another_host_is_refused_even_with_the_token(
    fake: FakeAnthropic, start: Callable[..., Runtime], host: str
) -> None:
    runtime, login = start_with_own_login(start)

    response = post(runtime, {"authorization": f"Bearer {runtime.token}", "host": host})

    assert response.status_code == 421
    assert "loopback" in response.json()["message"]
    assert claude_processes(runtime.process.pid) == []
    assert sent_with(fake, login) == []


@pytest.mark.parametrize("host", ["localhost:8081", "[::1]:8081", "127.0.0.1"])
def test_loopback_names_with_the_token_are_served(fake: FakeAnthropic, runtimes: dict[str, Runtime], host: str) -> None:
    runtime = runtimes["remote"]
    fake.enqueue(TextReply("served"))

    response = post(runtime, {"authorization": f"Bearer {runtime.token}", "host": host})

    assert response.status_code == 200
    assert '"text":"served"' in response.text.replace(" ", "")


def test_the_proxy_sends_its_runtime_token(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply("through the proxy"))

    reply = client.chat.completions.create(model="remote/sonnet", messages=MESSAGES)

    assert reply.choices[0].message.content == "through the proxy"


def test_a_runtime_with_another_token_is_a_502_naming_the_setting(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="othertoken/sonnet", messages=MESSAGES)

    assert caught.value.status_code == 502
    assert "CLAUDE_RUNTIME_TOKEN" in caught.value.message
    assert sent_with(fake, OTHERTOKEN_LOGIN) == []


def test_the_runtime_refuses_to_start_without_a_token(fake: FakeAnthropic, tmp_path: Path) -> None:
    env = {**cli_env(fake, tmp_path / "home"), "CLAUDE_LOGIN_DIR": str(tmp_path / "login")}
    env.pop("CLAUDE_RUNTIME_TOKEN", None)
    env.pop("CLAUDE_RUNTIME_TOKEN_FILE", None)

    done = subprocess.run(
        [str(VENV_BIN / "claude-code-runtime")], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert "CLAUDE_RUNTIME_TOKEN" in done.stderr
    assert "CLAUDE_RUNTIME_TOKEN_FILE" in done.stderr


def test_the_runtime_makes_a_private_token_file_that_callers_use(
    fake: FakeAnthropic, start: Callable[..., Runtime], tmp_path: Path
) -> None:
    token_file = tmp_path / "shared" / "runtime-token"
    token_file.parent.mkdir()
    runtime = start(env={**NO_POOL, "CLAUDE_RUNTIME_TOKEN": "", "CLAUDE_RUNTIME_TOKEN_FILE": str(token_file)})
    fake.enqueue(TextReply("file token"))

    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert post(runtime, {"authorization": "Bearer x"}).status_code == 401
    response = post(runtime, {"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "file token" in response.text
