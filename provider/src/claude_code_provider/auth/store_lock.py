"""The Claude Code CLI's own lock on its login store, taken by the runtime when it installs a login.

The pinned CLI refreshes under a lock (npm ``proper-lockfile``): the directory ``.oauth_refresh.lock``
inside the config directory, plus a legacy one, ``<config dir>.lock``, next to it when that is
writable. Holding both, it re-reads ``.credentials.json`` and refreshes only if no one else did. The
runtime replacing the file (a new login from the Secret) takes the same locks, so a CLI refresh in
progress never writes its login over the new one, and no CLI starts a refresh from a file about to go.
A lock whose directory was not touched for ``STALE_SECONDS`` is dead (its holder renews it every 5 s)
and is taken over, as the CLI does.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = ".oauth_refresh.lock"
STALE_SECONDS = 60.0
_POLL_SECONDS = 0.05


class StoreLockTimeout(TimeoutError):
    """The CLI's lock stayed held (and alive) for the whole wait."""


def _try_lock(path: Path, now: float) -> bool:
    """Make the lock directory; take over a stale one. False while someone else holds it."""
    try:
        path.mkdir()
    except FileExistsError:
        pass
    else:
        return True
    try:
        touched = path.stat().st_mtime
    except FileNotFoundError:
        return False  # released meanwhile: try again
    if now - touched < STALE_SECONDS:
        return False
    log.warning("Took over a stale login store lock", extra={"lock": path.name, "age_s": round(now - touched)})
    with contextlib.suppress(FileNotFoundError):
        _remove(path)
    return False


def _remove(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def _try_legacy(path: Path, now: float) -> bool | None:
    """As ``_try_lock``; None when the lock cannot exist here (the config directory's parent is read-only)."""
    try:
        return _try_lock(path, now)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
            return None
        raise


@contextlib.contextmanager
def cli_store_lock(config_dir: Path, *, timeout: float = STALE_SECONDS + 5) -> Iterator[None]:
    """Hold the CLI's refresh lock on ``config_dir`` (made if missing); raise ``StoreLockTimeout``."""
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = config_dir / LOCK_NAME
    real = Path(os.path.realpath(config_dir))
    legacy = real.with_name(real.name + ".lock")
    deadline = time.monotonic() + timeout
    while True:
        if _try_lock(lock, time.time()):
            held_legacy = _try_legacy(legacy, time.time())
            if held_legacy is not False:
                break
            lock.rmdir()
        if time.monotonic() >= deadline:
            raise StoreLockTimeout(f"the Claude Code CLI held {lock} for more than {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        if held_legacy:
            with contextlib.suppress(FileNotFoundError):
                legacy.rmdir()
        with contextlib.suppress(FileNotFoundError):
            _remove(lock)
