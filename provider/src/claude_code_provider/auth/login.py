"""Start-up: copy the read-only mounted login into the writable config directory the CLI uses.

The CLI rewrites ``.claude.json`` at every start and replaces ``.credentials.json`` when it refreshes
its token, so it cannot work from a read-only Secret mount. Files are copied with mode 0600 and only
when the Secret changed since the last copy, under the CLI's own lock on its login store
(``store_lock``), and never over the pod's own newer login: a container restart, or the Secret updated
by the pod's own write-back, keeps the CLI's refreshed token instead of going back to an (already used)
refresh token. A login of another lineage (``lineage``) in the Secret was put there on purpose and is
installed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from .lineage import Lineage, read_lineage, save_lineage
from .oauth_login import is_newer_login, parse_oauth_login
from .private_file import write_private
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
            "login. Copy ~/.claude/.credentials.json after `claude auth login`, or use `claude setup-token`."
        )


def _keeps_own_login(installed: bytes | None, secret: bytes, config_dir: Path) -> bool:
    """The pod's own login (refreshed, or from an in-pod login) stays over the Secret's: only when the
    Secret holds this pod's lineage (what it installed or wrote back last). A login of another lineage
    was put there on purpose and wins whatever its expiry; without a record, the later expiry wins."""
    if installed is None or installed == secret:
        return False
    lineage = read_lineage(config_dir)
    if lineage is None:
        return is_newer_login(installed, secret)
    return parse_oauth_login(installed) is not None and lineage.holds(secret)


def _copy_login(present: list[Path], credentials: Path, state: Path, config_dir: Path, changed: bool) -> bool:
    """Copy the Secret's files (under the CLI's store lock); True when the pod's own login was kept."""
    keep = False
    if credentials in present:
        secret = credentials.read_bytes()
        installed = config_dir / CREDENTIALS_FILE
        keep = _keeps_own_login(installed.read_bytes() if installed.is_file() else None, secret, config_dir)
        save_lineage(config_dir, (read_lineage(config_dir) or Lineage()).installing(secret))
    for path in (credentials, state):
        target = config_dir / path.name
        if path in present and not keep and (changed or not target.exists()):
            write_private(target, path.read_bytes())
    return keep


def install_login(source: Path, config_dir: Path) -> Login:
    """Validate the login in ``source`` and make it usable from ``config_dir``; raise ``LoginError``."""
    token_file, credentials, state = source / OAUTH_TOKEN_FILE, source / CREDENTIALS_FILE, source / STATE_FILE
    present = [p for p in (token_file, credentials, state) if p.is_file()]
    if not any(p in present for p in (token_file, credentials)):
        raise LoginError(
            f"No Claude Code login in {source}: expected {OAUTH_TOKEN_FILE} (from `claude setup-token`) "
            f"or {CREDENTIALS_FILE} (from `claude auth login`) in the credentials Secret."
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
        write_private(marker, digest.encode())
    log.info(
        "Login installed",
        extra={"method": "oauth_token" if token else "credentials_file", "source_changed": changed, "kept_newer": keep},
    )
    return Login(method="oauth_token" if token else "credentials_file", oauth_token=token)
