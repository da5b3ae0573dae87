"""The runtime's knowledge of its login: what was installed, what the CLI says, how requests end."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from ..auth.probe import fetch_cli_auth, read_token_info
from ..auth.status import AuthStatus, Outcome, derive_auth_status
from ..errors import ClaudeCodeError


class LoginMonitor:
    def __init__(
        self,
        *,
        cli: Path | None,
        cli_env: dict[str, str],
        config_dir: Path,
        login_problem: str | None,
        cli_version: str | None,
        refresh_seconds: float,
    ) -> None:
        self._cli = cli
        self._cli_env = cli_env
        self._config_dir = config_dir
        self._login_problem = login_problem
        self._cli_version = cli_version
        self._refresh_seconds = refresh_seconds
        self._cli_status: dict[str, object] | None = None
        self._fetched_at = float("-inf")
        self._outcome: Outcome | None = None
        self._lock = asyncio.Lock()

    def record(self, error: ClaudeCodeError | None) -> None:
        """Engine callback: the outcome of a real request through the login."""
        self._outcome = Outcome.of(error, datetime.now(UTC))

    async def _cli_auth(self) -> dict[str, object] | None:
        async with self._lock:
            if self._cli is not None and time.monotonic() - self._fetched_at >= self._refresh_seconds:
                self._cli_status = await fetch_cli_auth(self._cli, self._cli_env)
                self._fetched_at = time.monotonic()
        return self._cli_status

    async def status(self) -> AuthStatus:
        problem = self._login_problem
        if self._cli is None:
            problem = problem or "The Claude Code CLI was not found."
        return derive_auth_status(
            cli=await self._cli_auth(),
            login_problem=problem,
            token=read_token_info(self._config_dir),
            outcome=self._outcome,
            cli_version=self._cli_version,
            now=datetime.now(UTC),
        )
