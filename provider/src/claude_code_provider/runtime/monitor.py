"""The runtime's knowledge of its login: what was installed, what the CLI says, how requests end.

A rejected request marks the login unauthorized, which turns the pod unready, so no request would ever
show that it works again. The verdict is therefore re-checked by the monitor itself: at once when the
Secret or the credentials file changed (the Secret is installed again), and otherwise after
``refresh_seconds``, when a fresh ``claude auth status`` and the stored expiry decide until the next real
request says otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..auth.login import CREDENTIALS_FILE, OAUTH_TOKEN_FILE, STATE_FILE, Login, LoginError, install_login
from ..auth.probe import fetch_cli_auth, read_token_info
from ..auth.status import AuthStatus, Outcome, Requests, WriteBack, derive_auth_status
from ..errors import ClaudeCodeError
from ..usage import UsageWindow

log = logging.getLogger(__name__)

LoginListener = Callable[[Login | None], None]


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            digest.update(path.name.encode() + b"\0-\0")
    return digest.hexdigest()


class LoginMonitor:
    def __init__(
        self,
        *,
        cli: Path | None,
        login_dir: Path,
        config_dir: Path,
        cli_version: str | None = None,
        refresh_seconds: float,
    ) -> None:
        self._cli = cli
        self._login_dir = login_dir
        self._config_dir = config_dir
        self.cli_version = cli_version
        self._refresh_seconds = refresh_seconds
        self.login: Login | None = None
        self.problem: str | None = None
        self._listeners: list[LoginListener] = []
        self._secret = ""
        self._credentials = ""
        self._cli_status: dict[str, object] | None = None
        self._fetched_at = float("-inf")
        self._outcome: Outcome | None = None
        self._lock = asyncio.Lock()
        #: Set when write-back is on: what /auth/status reports about it.
        self.write_back: Callable[[], WriteBack] | None = None
        #: The plan's usage windows, as the last answers said.
        self.usage: Callable[[], list[UsageWindow]] | None = None
        #: The completion API's request counts.
        self.requests: Callable[[], Requests] | None = None

    @property
    def cli_env(self) -> dict[str, str]:
        """What the CLI needs to find the installed login."""
        env = {"CLAUDE_CONFIG_DIR": str(self._config_dir)}
        if self.login is not None and self.login.oauth_token is not None:
            env["CLAUDE_CODE_OAUTH_TOKEN"] = self.login.oauth_token.get_secret_value()
        return env

    def subscribe(self, listener: LoginListener) -> None:
        """Call ``listener`` with the login whenever the Secret brings a new one."""
        self._listeners.append(listener)

    def install(self) -> None:
        """Install the login from the Secret (at start, and again whenever the Secret changed)."""
        self._secret = self._secret_fingerprint()
        try:
            self.login, self.problem = install_login(self._login_dir, self._config_dir), None
        except LoginError as error:
            # Keep serving: /auth/status and /readyz tell the operator what is wrong with the Secret.
            self.login, self.problem = None, str(error)
            log.error("Login not installed", extra={"reason": self.problem})
        self._credentials = self._credentials_fingerprint()

    def record(self, error: ClaudeCodeError | None) -> None:
        """Engine callback: the outcome of a real request through the login."""
        self._outcome = Outcome.of(error, datetime.now(UTC))

    def _secret_fingerprint(self) -> str:
        return _fingerprint([self._login_dir / name for name in (OAUTH_TOKEN_FILE, CREDENTIALS_FILE, STATE_FILE)])

    def _credentials_fingerprint(self) -> str:
        return _fingerprint([self._config_dir / CREDENTIALS_FILE])

    async def _recheck(self) -> None:
        """Install a changed Secret; forget a rejection that a change or the time since may have cured."""
        secret, credentials = await asyncio.to_thread(
            lambda: (self._secret_fingerprint(), self._credentials_fingerprint())
        )
        changed = secret != self._secret or credentials != self._credentials
        if secret != self._secret:
            log.info("Login Secret changed; installing it again")
            await asyncio.to_thread(self.install)
            for listener in self._listeners:
                listener(self.login)
        self._credentials = credentials
        outcome = self._outcome
        rejected = outcome is not None and outcome.result == "unauthorized"
        waited = outcome is not None and (datetime.now(UTC) - outcome.at).total_seconds() >= self._refresh_seconds
        if changed or (rejected and waited):
            self._fetched_at = float("-inf")
            if rejected:
                self._outcome = None

    async def _cli_auth(self) -> dict[str, object] | None:
        async with self._lock:
            await self._recheck()
            if self._cli is not None and time.monotonic() - self._fetched_at >= self._refresh_seconds:
                self._cli_status = await fetch_cli_auth(self._cli, self.cli_env)
                self._fetched_at = time.monotonic()
        return self._cli_status

    async def status(self) -> AuthStatus:
        cli = await self._cli_auth()
        problem = self.problem
        if self._cli is None:
            problem = problem or "The Claude Code CLI was not found."
        return derive_auth_status(
            cli=cli,
            login_problem=problem,
            token=await asyncio.to_thread(read_token_info, self._config_dir),
            outcome=self._outcome,
            cli_version=self.cli_version,
            now=datetime.now(UTC),
            write_back=self.write_back() if self.write_back is not None else None,
            usage=self.usage() if self.usage is not None else None,
            requests=self.requests() if self.requests is not None else None,
        )
