"""Where this machine's Claude Code CLI keeps its login, read in one documented order (I/O only).

1. `--token-stdin`: a `claude setup-token` token on standard input.
2. `CLAUDE_CODE_OAUTH_TOKEN`: a `claude setup-token` token in the environment (the CLI prefers it too).
3. macOS only: the Keychain item the CLI writes (a generic password; service `Claude Code-credentials`,
   account `$USER`).
4. `.credentials.json` in `$CLAUDE_CONFIG_DIR`, else in `~/.claude` (the CLI's file on Linux; on macOS
   its fallback when the Keychain is unavailable).

With an OAuth login (3, 4) goes the account state file: `$CLAUDE_CONFIG_DIR/.claude.json` when that
variable is set, else `~/.claude.json` (beside `~/.claude`, not in it).
"""

from __future__ import annotations

import getpass
import hashlib
import re
import subprocess
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, Protocol

from .errors import LoginCommandError, LoginNotFound

LoginKind = Literal["oauth", "setup-token"]

TOKEN_VARIABLE = "CLAUDE_CODE_OAUTH_TOKEN"
KEYCHAIN_SERVICE = "Claude Code-credentials"
#: `security`'s exit status for "The specified item could not be found in the keychain".
KEYCHAIN_ITEM_NOT_FOUND = 44
_KEYCHAIN_ACCOUNT = re.compile(r"^[a-zA-Z0-9._-]+$")
HOW_TO_LOG_IN = (
    "Run `claude setup-token` (recommended for pods: one year, never refreshed) and pass its token with "
    "--token-stdin or CLAUDE_CODE_OAUTH_TOKEN, or run `claude auth login`."
)


@dataclass(frozen=True)
class LocalLogin:
    """A login as found, unvalidated. `source` says where, for messages; values stay out of repr."""

    kind: LoginKind
    source: str
    secret: bytes = field(repr=False)
    state: bytes | None = field(default=None, repr=False)
    state_source: str | None = None


class Keychain(Protocol):
    def find_password(self, service: str, account: str) -> str | None:
        """The generic password's value, None when there is no such item; raises LoginCommandError."""


class MacKeychain:
    """The login keychain through `security` (macOS asks the user to allow the read on first use)."""

    def find_password(self, service: str, account: str) -> str | None:
        command = ["security", "find-generic-password", "-a", account, "-w", "-s", service]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise LoginCommandError(f"Could not read the macOS Keychain ({error.__class__.__name__}).") from None
        if result.returncode == KEYCHAIN_ITEM_NOT_FOUND:
            return None
        if result.returncode != 0:
            # `security` prints its own reason (a locked keychain, a denied prompt); never the value.
            reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no reason given"
            raise LoginCommandError(
                f"Reading the Keychain item {service!r} failed (security exited {result.returncode}: {reason}). "
                "Unlock the keychain (`security unlock-keychain`) and allow the read, or use --token-stdin."
            )
        return result.stdout.strip() or None


def keychain_service(config_dir: str | None) -> str:
    """The CLI's item name: with CLAUDE_CONFIG_DIR set it appends the first 8 hex digits of the
    SHA-256 of that directory (NFC), so each config directory has its own item."""
    if not config_dir:
        return KEYCHAIN_SERVICE
    digest = hashlib.sha256(unicodedata.normalize("NFC", config_dir).encode()).hexdigest()[:8]
    return f"{KEYCHAIN_SERVICE}-{digest}"


def keychain_account(env: Mapping[str, str]) -> str:
    """The CLI's account name: $USER (else the login name), or a fixed one for unusual names."""
    user = env.get("USER") or getpass.getuser()
    return user if _KEYCHAIN_ACCOUNT.match(user) else "claude-code-user"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise LoginCommandError(f"Could not read {path}: {error.strerror or error.__class__.__name__}.") from None


def _oauth(source: str, secret: bytes, state_path: Path) -> LocalLogin:
    state = _read(state_path) if state_path.is_file() else None
    return LocalLogin("oauth", source, secret, state, str(state_path) if state is not None else None)


def fetch_local_login(
    *,
    env: Mapping[str, str],
    home: Path,
    platform: str,
    keychain: Keychain,
    stdin: IO[str] | None = None,
) -> LocalLogin:
    """The first login found in the order of this module's docstring; `stdin` only with --token-stdin."""
    if stdin is not None:
        # At a terminal: a prompt that does not echo the token; else whatever is piped in.
        text = getpass.getpass("Token from `claude setup-token` (not shown): ") if stdin.isatty() else stdin.read()
        return LocalLogin("setup-token", "standard input (--token-stdin)", text.encode())
    token = env.get(TOKEN_VARIABLE)
    if token:
        return LocalLogin("setup-token", f"the environment variable {TOKEN_VARIABLE}", token.encode())
    config_dir = env.get("CLAUDE_CONFIG_DIR") or None
    base = Path(config_dir).expanduser() if config_dir else home / ".claude"
    state_path = base / ".claude.json" if config_dir else home / ".claude.json"
    looked = [f"${TOKEN_VARIABLE}"]
    if platform == "darwin":
        service, account = keychain_service(config_dir), keychain_account(env)
        where = f"the macOS Keychain (service {service!r}, account {account!r})"
        looked.append(where)
        found = keychain.find_password(service, account)
        if found:
            return _oauth(where, found.encode(), state_path)
    credentials = base / ".credentials.json"
    looked.append(str(credentials))
    if credentials.is_file():
        return _oauth(str(credentials), _read(credentials), state_path)
    raise LoginNotFound(f"No Claude Code login on this machine (looked at {', '.join(looked)}). {HOW_TO_LOG_IN}")
