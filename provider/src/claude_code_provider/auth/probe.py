"""I/O for the auth status: ask the CLI, read the stored token's expiry, find the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import claude_agent_sdk

from ..engine.environment import derive_cli_environment
from .login import CREDENTIALS_FILE
from .status import TokenInfo

log = logging.getLogger(__name__)


def bundled_cli() -> Path:
    """Where the claude-agent-sdk wheel keeps its Claude Code CLI."""
    return Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


def find_cli(configured: Path | None) -> Path | None:
    """The CLI the SDK will run: the configured one, the wheel's bundled one, or one on PATH."""
    if configured is not None:
        return configured if configured.is_file() else None
    bundled = bundled_cli()
    if bundled.is_file():
        return bundled
    found = shutil.which("claude")
    return Path(found) if found else None


async def _run_cli(cli: Path, args: list[str], env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    process = await asyncio.create_subprocess_exec(
        str(cli),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=derive_cli_environment(os.environ, env),
    )
    try:
        async with asyncio.timeout(timeout):
            stdout, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, stdout


async def fetch_cli_auth(cli: Path, env: dict[str, str], timeout: float = 15.0) -> dict[str, Any] | None:
    """``claude auth status --json`` (no API call); None when the CLI could not say."""
    try:
        _, stdout = await _run_cli(cli, ["auth", "status", "--json"], env, timeout)
        data = json.loads(stdout)
    except (OSError, TimeoutError, ValueError) as error:
        log.warning("Claude Code auth status failed", extra={"error": type(error).__name__})
        return None
    return data if isinstance(data, dict) else None


async def fetch_cli_version(cli: Path, env: dict[str, str], timeout: float = 15.0) -> str | None:
    try:
        code, stdout = await _run_cli(cli, ["--version"], env, timeout)
    except (OSError, TimeoutError):
        return None
    text = stdout.decode(errors="replace").strip()
    return text.split()[0] if code == 0 and text else None


def read_token_info(config_dir: Path) -> TokenInfo:
    """Expiry and refreshability of the stored OAuth login; empty for a setup-token or no file."""
    try:
        oauth = json.loads((config_dir / CREDENTIALS_FILE).read_bytes()).get("claudeAiOauth") or {}
    except (OSError, ValueError, AttributeError):
        return TokenInfo()
    expires = oauth.get("expiresAt")
    return TokenInfo(
        expires_at=datetime.fromtimestamp(expires / 1000, UTC) if isinstance(expires, int | float) else None,
        refreshable=bool(oauth.get("refreshToken")),
    )
