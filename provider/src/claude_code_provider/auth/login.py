"""Start-up: copy the read-only mounted login into the writable config directory the CLI uses.

The CLI rewrites ``.claude.json`` at every start and replaces ``.credentials.json`` when it refreshes
its token, so it cannot work from a read-only Secret mount. Files are copied with mode 0600 and only
when the Secret changed since the last copy, under the CLI's own lock on its login store
(``store_lock``), and never over a newer login: a container restart, or the
Secret updated by the pod's own write-back, keeps the CLI's refreshed token instead of going back to an
(already used) refresh token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from .oauth_login import is_newer_login
from .store_lock import StoreLockTimeout, cli_store_lock

log = logging.getLogger(__name__)

CREDENTIALS_FILE = ".credentials.json"
STATE_FILE = ".claude.json"
# The key a `claude setup-token` token is stored under in the Secret.
OAUTH_TOKEN_FILE = "oauth-token"
_MARKER = ".login-source.sha256"

LoginMethod = Literal["oauth_token", "credentials_file"]


class LoginError(ValueError):
    """The mounted login is unusable; the message says which file and what to do."""


@dataclass(frozen=True)
class Login:
    method: LoginMethod
    oauth_token: SecretStr | None = None


def _read_json_object(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_bytes())
    except ValueError as error:
        raise LoginError(f"{path.name} in the login Secret is not valid JSON ({error.__class__.__name__}).") from None
    if not isinstance(data, dict):
        raise LoginError(f"{path.name} in the login Secret must hold a JSON object.")
    return data


def _check_credentials(path: Path) -> None:
    oauth = _read_json_object(path).get("claudeAiOauth")
    if not isinstance(oauth, dict) or not oauth.get("accessToken"):
        raise LoginError(
            f"{path.name} in the login Secret has no claudeAiOauth.accessToken: it is not a Claude Code "
            "login. Copy ~/.claude/.credentials.json after `claude login`, or use `claude setup-token`."
        )


def _write_private(path: Path, data: bytes) -> None:
    # Atomic like the CLI's own writes, so a crash never leaves half a login behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy_login(present: list[Path], credentials: Path, state: Path, config_dir: Path, changed: bool) -> bool:
    """Copy the Secret's files (under the CLI's store lock); True when the pod's newer login was kept."""
    # The pod's own refresh (or in-pod login), written back or not yet, is never undone by an older Secret.
    installed = config_dir / CREDENTIALS_FILE
    keep = (
        credentials in present
        and installed.is_file()
        and is_newer_login(installed.read_bytes(), credentials.read_bytes())
    )
    for path in (credentials, state):
        target = config_dir / path.name
        if path in present and not keep and (changed or not target.exists()):
            _write_private(target, path.read_bytes())
    return keep


def install_login(source: Path, config_dir: Path) -> Login:
    """Validate the login in ``source`` and make it usable from ``config_dir``; raise ``LoginError``."""
    token_file, credentials, state = source / OAUTH_TOKEN_FILE, source / CREDENTIALS_FILE, source / STATE_FILE
    present = [p for p in (token_file, credentials, state) if p.is_file()]
    if not any(p in present for p in (token_file, credentials)):
        raise LoginError(
            f"No Claude Code login in {source}: expected {OAUTH_TOKEN_FILE} (from `claude setup-token`) "
            f"or {CREDENTIALS_FILE} (from `claude login`) in the credentials Secret."
        )
    token: SecretStr | None = None
    if token_file in present:
        value = token_file.read_text().strip()
        if not value or any(c.isspace() for c in value):
            raise LoginError(
                f"{OAUTH_TOKEN_FILE} in the login Secret must hold one token, as `claude setup-token` prints it."
            )
        token = SecretStr(value)
    if credentials in present:
        _check_credentials(credentials)
    if state in present:
        _read_json_object(state)

    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256(b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in present)).hexdigest()
    marker = config_dir / _MARKER
    changed = not marker.is_file() or marker.read_text().strip() != digest
    try:
        with cli_store_lock(config_dir):
            keep = _copy_login(present, credentials, state, config_dir, changed)
    except StoreLockTimeout as error:
        raise LoginError(
            f"The login was not installed: {error}; the next change of the Secret installs it again."
        ) from None
    if changed:
        _write_private(marker, digest.encode())
    log.info(
        "Login installed",
        extra={"method": "oauth_token" if token else "credentials_file", "source_changed": changed, "kept_newer": keep},
    )
    return Login(method="oauth_token" if token else "credentials_file", oauth_token=token)
