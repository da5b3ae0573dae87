"""The real chain on loopback, as processes: runtimes and LiteLLM proxies pointed at a fake upstream.

Shared by the integration tests and the benchmarks.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import yaml
from prometheus_client.parser import text_string_to_metric_families

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic
from claude_code_devkit.paths import REPO, VENV_BIN
from claude_code_devkit.ports import free_port
from claude_code_devkit.processes import Process
from claude_code_devkit.waiting import wait_until
from claude_code_provider.llm.reasoning import REASONING_PARAMS

FAKE_TOKEN = "sk-ant-oat01-" + "f" * 40
# The shared secret between this session's proxies and runtimes (the operator makes one per pod).
RUNTIME_TOKEN = secrets.token_urlsafe(24)
HANDLER = "claude_code_provider.llm.handler.claude_code_llm"
# What a process that starts the CLI may hold besides the login; none of it may reach the CLI.
STRAY_ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-" + "k" * 40,
    "ANTHROPIC_AUTH_TOKEN": "stray-bearer-token",
    "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "0",
    "CLAUDE_CODE_USE_BEDROCK": "1",
    "CLAUDE_CODE_USE_VERTEX": "1",
    "FOO": "not-for-the-cli",
}


def cli_env(fake: FakeAnthropic, home: Path) -> dict[str, str]:
    """The environment every process that runs the CLI gets: isolated home, fake upstream."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": fake.base_url,
        # The CLI's own retries of 5xx/529 would only slow these tests down; the mapping is the same.
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }


@dataclass
class Runtime:
    process: Process
    api_url: str
    health_url: str
    config_dir: Path
    login_dir: Path
    token: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.health_url + path, timeout=30, trust_env=False)

    def complete(self, body: dict[str, object], *, timeout: float = 60) -> httpx.Response:
        """``POST /v1/complete`` as the pod's LiteLLM container sends it, with the runtime token."""
        # json.dumps escapes what UTF-8 cannot carry (a lone surrogate), as JSON allows.
        return httpx.post(
            self.api_url + "/v1/complete",
            content=json.dumps(body),
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
            timeout=timeout,
            trust_env=False,
        )

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the runtime's /metrics (0 when it has none yet)."""
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def wait_for_spares(self, count: int = 1, *, timeout: float = 60) -> None:
        """Until exactly `count` warm CLI processes wait for a request (the pool's ready gauge)."""
        wait_until(
            lambda: self.metric("claude_code_pool_ready_processes") == count,
            timeout=timeout,
            what=f"{count} warm spare(s)",
            ignore=(Exception,),
            interval=0.05,
        )


def start_runtime(
    fake: FakeAnthropic, root: Path, *, login: dict[str, str] | None = None, env: dict[str, str] | None = None
) -> Runtime:
    login_dir, config_dir = root / "login", root / "config"
    login_dir.mkdir(parents=True)
    for name, content in ({"oauth-token": FAKE_TOKEN} if login is None else login).items():
        (login_dir / name).write_text(content)
    api_port, port = free_port(), free_port()
    settings = {"CLAUDE_RUNTIME_TOKEN": RUNTIME_TOKEN, **(env or {})}
    process = Process(
        [str(VENV_BIN / "claude-code-runtime")],
        env={
            **cli_env(fake, root / "home"),
            "CLAUDE_LOGIN_DIR": str(login_dir),
            "CLAUDE_CONFIG_DIR": str(config_dir),
            "CLAUDE_CODE_SCRATCH_DIR": str(root / "scratch"),
            "CLAUDE_RUNTIME_LISTEN_HOST": "127.0.0.1",
            "CLAUDE_RUNTIME_PORT": str(port),
            "CLAUDE_RUNTIME_API_PORT": str(api_port),
            **settings,
        },
        log=root / "runtime.log",
    )
    runtime = Runtime(
        process,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{port}",
        config_dir,
        login_dir,
        settings["CLAUDE_RUNTIME_TOKEN"],
    )
    try:
        wait_until(
            lambda: process.alive() and runtime.get("/healthz").status_code == 200,
            timeout=60,
            what="runtime",
            ignore=(Exception,),
            interval=0.05,
        )
    except TimeoutError:
        process.stop()
        raise AssertionError(f"runtime did not start:\n{process.output()[-3000:]}") from None
    return runtime


@dataclass
class Proxy:
    process: Process
    url: str
    key: str
    config_dir: Path

    def client(self, **kwargs: object) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.url + "/v1",
            api_key=self.key,
            max_retries=0,
            timeout=60,
            **kwargs,  # type: ignore[arg-type]
        )


def start_proxy(
    fake: FakeAnthropic,
    root: Path,
    config: Path,
    *,
    login: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Proxy:
    """A LiteLLM proxy whose in-process provider uses ``login`` (by default a setup-token login)."""
    port, key = free_port(), "sk-" + secrets.token_hex(24)
    config_dir = root / "claude-config"
    if login is None:
        login = {"CLAUDE_CONFIG_DIR": str(config_dir), "CLAUDE_CODE_OAUTH_TOKEN": FAKE_TOKEN}
    process = Process(
        [str(VENV_BIN / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env={
            **cli_env(fake, root / "home"),
            "LITELLM_MASTER_KEY": key,
            "CLAUDE_RUNTIME_TOKEN": RUNTIME_TOKEN,
            "CLAUDE_CODE_SCRATCH_DIR": str(root / "scratch"),
            **login,
            **(env or {}),
        },
        log=root / "proxy.log",
        cwd=REPO,
    )
    proxy = Proxy(process, f"http://127.0.0.1:{port}", key, config_dir)

    def ready() -> bool:
        assert process.alive(), process.output()[-3000:]
        return httpx.get(proxy.url + "/health/liveliness", timeout=5, trust_env=False).status_code == 200

    try:
        wait_until(ready, timeout=180, interval=0.2, what="LiteLLM proxy", ignore=(Exception,))
    except (TimeoutError, AssertionError):
        process.stop()
        raise AssertionError(f"LiteLLM proxy did not start:\n{process.output()[-3000:]}") from None
    return proxy


def write_proxy_config(path: Path, models: list[dict[str, object]]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                # As in the shipped configs: LiteLLM's generic list for custom providers lacks these.
                "model_list": [
                    {**m, "litellm_params": {**m["litellm_params"], "allowed_openai_params": list(REASONING_PARAMS)}}  # type: ignore[dict-item]
                    if str(m["litellm_params"]["model"]).startswith("claude-code/")  # type: ignore[index]
                    else m
                    for m in models
                ],
                "litellm_settings": {"custom_provider_map": [{"provider": "claude-code", "custom_handler": HANDLER}]},
                # As in the shipped configs: the CLI already retries what is worth retrying.
                "router_settings": {"num_retries": 0, "disable_cooldowns": True},
            }
        )
    )
    return path
