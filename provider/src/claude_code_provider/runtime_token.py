"""The shared secret between a pod's LiteLLM container and its runtime's completion API.

Loopback alone does not make a caller trustworthy: any process in the pod's network namespace, or a
browser page rebinding a name to 127.0.0.1, can reach it. Both sides read the token from
``CLAUDE_RUNTIME_TOKEN``, else from the file named by ``CLAUDE_RUNTIME_TOKEN_FILE`` (which the runtime
creates, 0600 with a random token, when it is missing: a volume both containers mount).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

TOKEN_VARIABLE = "CLAUDE_RUNTIME_TOKEN"
TOKEN_FILE_VARIABLE = "CLAUDE_RUNTIME_TOKEN_FILE"
# The header that carries it: ``Authorization: Bearer <token>``.
AUTHORIZATION = "authorization"

MISSING_TOKEN = (
    f"No runtime token: set {TOKEN_VARIABLE} (the operator sets it from the provider's Secret) or "
    f"{TOKEN_FILE_VARIABLE} to a file on a volume both containers share, in the runtime and in the LiteLLM "
    "container alike."
)


class RuntimeTokenError(Exception):
    pass


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as error:
        raise RuntimeTokenError(f"Cannot read the runtime token file {path}: {error.strerror}.") from None


def fetch_runtime_token(environ: Mapping[str, str]) -> str | None:
    """The token a caller of the runtime sends; None when neither variable gives one (yet).

    Raises ``RuntimeTokenError`` when the named file exists but cannot be read."""
    if environ.get(TOKEN_VARIABLE):
        return environ[TOKEN_VARIABLE]
    if environ.get(TOKEN_FILE_VARIABLE):
        return _read(Path(environ[TOKEN_FILE_VARIABLE]))
    return None


def apply_runtime_token(environ: Mapping[str, str]) -> str:
    """The token the runtime requires; creates the token file (0600, random) when it is named but missing."""
    token = fetch_runtime_token(environ)
    if token is not None:
        return token
    if not environ.get(TOKEN_FILE_VARIABLE):
        raise RuntimeTokenError(MISSING_TOKEN)
    path = Path(environ[TOKEN_FILE_VARIABLE])
    if path.is_file():
        raise RuntimeTokenError(f"The runtime token file {path} is empty; remove it or write a token into it.")
    # Written aside and linked into place: a reader never sees a half-written file, and of two
    # runtimes racing to create it one wins and the other uses its token.
    token = secrets.token_urlsafe(32)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(token + "\n")
        os.link(draft, path)
    except FileExistsError:
        existing = _read(path)
        if existing is None:
            raise RuntimeTokenError(f"The runtime token file {path} is not a readable token file.") from None
        return existing
    except OSError as error:
        raise RuntimeTokenError(f"Cannot create the runtime token file {path}: {error.strerror}.") from None
    finally:
        draft.unlink(missing_ok=True)
    return token
