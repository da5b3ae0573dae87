"""Empty working directories for the CLI: private to this process, never a way into someone else's files."""

from __future__ import annotations

import shutil
import tempfile
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
        if self._private is None:
            self._root.mkdir(parents=True, exist_ok=True)
            self._private = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self._root))
        slot = self._free.pop() if self._free else self._new()
        path = self._private / f"slot-{slot}"
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

    def _new(self) -> int:
        self._next += 1
        return self._next - 1


def remove_path(path: Path) -> None:
    """Remove a file, link or directory tree at ``path`` itself; a link's target is never touched."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        # rmtree refuses a link at the top and does not follow links below it.
        shutil.rmtree(path, ignore_errors=True)
