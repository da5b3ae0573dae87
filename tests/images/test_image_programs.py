"""The images' programs start from the image alone: the operator's CLI, the bundled Claude Code CLI,
and a completion through the provider pod's two containers (LiteLLM -> runtime -> bundled CLI), each
run from the provider image as uid 10001 against a fake Anthropic API on 127.0.0.1."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest
from tests.conftest import ISOLATION_ENV

from claude_code_devkit.buildah import Container
from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.ports import free_port
from claude_code_devkit.processes import Process
from claude_code_devkit.stack import FAKE_TOKEN, write_proxy_config
from claude_code_devkit.waiting import wait_until


def test_the_operator_image_runs_its_cli(container: Callable[[str], Container]) -> None:
    help_ = container("operator").run(["claude-code-operator", "--help"])
    assert help_.returncode == 0, help_.stderr
    assert "run" in help_.stdout


def test_the_provider_image_runs_the_bundled_claude_code_cli(container: Callable[[str], Container]) -> None:
    version = container("provider").run(["claude", "--version"], env=ISOLATION_ENV)
    assert version.returncode == 0, version.stderr
    assert "Claude Code" in version.stdout


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def readable(path: Path) -> Path:
    """``path`` readable by the image's user (a pod's Secret volume is world-readable inside the pod)."""
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return path


def started(process: Process, url: str, what: str) -> None:
    def ready() -> bool:
        assert process.alive(), process.output()[-3000:]
        try:
            return httpx.get(url, timeout=5, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout=240, interval=0.5, what=what, ignore=(Exception,))


def test_the_provider_pod_serves_a_completion_from_the_image(
    fake: FakeAnthropic, container: Callable[[str], Container], tmp_path: Path
) -> None:
    fake.default_reply = TextReply(text="served from the image")
    login = tmp_path / "login"
    login.mkdir()
    (login / "oauth-token").write_text(FAKE_TOKEN)
    runtime_token, master_key = secrets.token_urlsafe(24), "sk-" + secrets.token_hex(24)
    health_port, api_port, proxy_port = free_port(), free_port(), free_port()
    upstream = {**ISOLATION_ENV, "ANTHROPIC_BASE_URL": fake.base_url, "CLAUDE_CODE_MAX_RETRIES": "0"}
    runtime = container("provider").start(
        ["claude-code-runtime"],
        env={
            **upstream,
            "CLAUDE_RUNTIME_TOKEN": runtime_token,
            "CLAUDE_RUNTIME_LISTEN_HOST": "127.0.0.1",
            "CLAUDE_RUNTIME_PORT": str(health_port),
            "CLAUDE_RUNTIME_API_PORT": str(api_port),
        },
        volumes={readable(login): "/var/run/claude-login"},
        log=tmp_path / "runtime.log",
    )
    config = tmp_path / "litellm"
    config.mkdir()
    write_proxy_config(
        config / "config.yaml",
        [
            {
                "model_name": "sonnet",
                "litellm_params": {"model": "claude-code/sonnet", "api_base": f"http://127.0.0.1:{api_port}"},
            }
        ],
    )
    proxy = container("provider").start(
        ["litellm", "--config", "/etc/litellm/config.yaml", "--host", "127.0.0.1", "--port", str(proxy_port)],
        env={**upstream, "LITELLM_MASTER_KEY": master_key, "CLAUDE_RUNTIME_TOKEN": runtime_token},
        volumes={readable(config): "/etc/litellm"},
        log=tmp_path / "proxy.log",
    )
    try:
        started(runtime, f"http://127.0.0.1:{health_port}/healthz", "the image's runtime")
        started(proxy, f"http://127.0.0.1:{proxy_port}/health/liveliness", "the image's LiteLLM")
        url = f"http://127.0.0.1:{proxy_port}/v1"
        client = openai.OpenAI(base_url=url, api_key=master_key, max_retries=0, timeout=120)
        reply = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "Hello"}])
        assert reply.choices[0].message.content == "served from the image"
        assert {r.bearer_token for r in fake.messages_requests} == {FAKE_TOKEN}  # the Secret's login
    finally:
        proxy.stop()
        runtime.stop()
