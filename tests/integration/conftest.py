"""The real chain on loopback: openai client -> LiteLLM proxy -> provider -> runtime -> Claude Code CLI
-> fake Anthropic API. Processes are started once per session; the fake is reset before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic
from claude_code_devkit.stack import STRAY_ENV, Proxy, Runtime, start_proxy, start_runtime, write_proxy_config


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeAnthropic) -> None:
    fake.clear()


#: The refused runtime's own login: a test tells its upstream requests (there must be none) from stragglers.
OTHERTOKEN_LOGIN = "sk-ant-oat01-othertoken-runtime"


@pytest.fixture(scope="session")
def runtimes(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Runtime]]:
    """Runtimes in the configurations the proxy routes to, by model prefix."""
    configs: dict[str, dict[str, str]] = {
        "remote": {},
        "slow": {"CLAUDE_CODE_IDLE_TIMEOUT": "3"},
        "nocli": {"CLAUDE_CODE_CLI_PATH": "/nonexistent/bin/claude"},
        "stray": STRAY_ENV,
        "single": {"CLAUDE_RUNTIME_MAX_IN_FLIGHT": "1", "CLAUDE_RUNTIME_MAX_QUEUED": "0"},
        "retrying": {"CLAUDE_CODE_MAX_RETRIES": "2"},
        "othertoken": {"CLAUDE_RUNTIME_TOKEN": "not-the-proxys-token"},
    }
    started: dict[str, Runtime] = {}
    try:
        for name, env in configs.items():
            login = {"oauth-token": OTHERTOKEN_LOGIN} if name == "othertoken" else None
            started[name] = start_runtime(fake, tmp_path_factory.mktemp(f"runtime-{name}"), env=env, login=login)
        yield started
    finally:
        for runtime in started.values():
            runtime.process.stop()


@pytest.fixture(scope="session")
def proxy(
    fake: FakeAnthropic, runtimes: dict[str, Runtime], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """One proxy: ``<model>`` runs in-process, ``<runtime name>/<model>`` in that runtime, ``api/<model>`` on
    LiteLLM's own ``anthropic/`` provider with the API key in the proxy's environment (``STRAY_ENV``)."""
    root = tmp_path_factory.mktemp("proxy")
    models = [{"model_name": "*", "litellm_params": {"model": "claude-code/*"}}]
    models += [
        {"model_name": f"{name}/*", "litellm_params": {"model": "claude-code/*", "api_base": runtime.api_url}}
        for name, runtime in runtimes.items()
    ]
    models.append(
        {"model_name": "keyed/*", "litellm_params": {"model": "claude-code/*", "api_key": "sk-ant-api03-xyz"}}
    )
    # LiteLLM's switch for ignoring parameters a provider does not support, set on one model group.
    models.append({"model_name": "dropping/*", "litellm_params": {"model": "claude-code/*", "drop_params": True}})
    models.append({"model_name": "api/*", "litellm_params": {"model": "anthropic/*", "api_base": fake.base_url}})
    server = start_proxy(fake, root, write_proxy_config(root / "litellm.yaml", models), env=STRAY_ENV)
    yield server
    server.process.stop()


@pytest.fixture
def client(proxy: Proxy) -> openai.OpenAI:
    return proxy.client()


@pytest.fixture
def start(fake: FakeAnthropic, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Start a runtime of this test's own (for state such as the last outcome); stopped afterwards."""
    started: list[Runtime] = []

    def _start(**kwargs: Any) -> Runtime:
        runtime = start_runtime(fake, tmp_path / f"runtime-{len(started)}", **kwargs)
        started.append(runtime)
        return runtime

    yield _start
    for runtime in started:
        runtime.process.stop()
