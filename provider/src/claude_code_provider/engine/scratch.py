"""Empty working directories for the CLI: private to this process, never a way into someone else's files."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRATCH_PREFIX = "claude-code-scratch-"


class ScratchSlots:
    """Empty working directories for the CLI, inside a private directory of this engine's own.

    The private directory is made by ``mkdtemp`` (0700, an unpredictable name) when first needed, so no
    other user can plant a link where a slot will be. Slot names are reused within it so that the CLI's
    per-directory state stays bounded; removal never follows a link, whatever is found there.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._private: Path | None = None
        self._free: list[int] = []
        self._next = 0

    @contextmanager
    def lease(self) -> Iterator[Path]:
        slot = self._free.pop() if self._free else self._new()
        path = self._private_dir() / f"slot-{slot}"
        remove_path(path)
        path.mkdir(mode=0o700)
        try:
            yield path
        finally:
            remove_path(path)
            self._free.append(slot)

    def close(self) -> None:
        """Remove the private directory (slots still leased are removed with it)."""
        if self._private is not None:
            remove_path(self._private)
            self._private = None

    def _private_dir(self) -> Path:
        """The private directory, made anew if it is gone or no longer ours (a temp cleaner removed it,
        and someone may have put something else under its name)."""
        if self._private is None or not _is_private(self._private):
            self._root.mkdir(parents=True, exist_ok=True)
            self._private = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self._root))
            # Also gone when an engine that is never closed goes (the blocking API's, at exit).
            weakref.finalize(self, remove_path, self._private)
        return self._private

    def _new(self) -> int:
        self._next += 1
        return self._next - 1


def _is_private(path: Path) -> bool:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700


def remove_path(path: Path) -> None:
    """Remove a file, link or directory tree at ``path`` itself; a link's target is never touched."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        # rmtree refuses a link at the top and does not follow links below it.
        shutil.rmtree(path, ignore_errors=True)
