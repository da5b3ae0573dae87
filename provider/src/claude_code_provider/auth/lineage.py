"""Which logins in the Secret are this pod's own: the one it installed last and the ones it wrote back last.

Expiry alone cannot tell a login the pod refreshed from a login a person put in the Secret on purpose
(another account, or ``login --force`` with a token that expires earlier). Write-back therefore writes
only over a Secret login of this pod's lineage, and install keeps the pod's refreshed login only over
one of its lineage; anything else in the Secret is a newer, deliberate login. The record holds SHA-256
digests of the exact bytes (never a token), in the config directory, so it survives container restarts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from .private_file import write_private

LINEAGE_FILE = ".login-lineage.json"


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


#: Write-backs remembered: recorded before each patch, so a patch whose answer was lost still counts.
KEPT_WRITES = 4


@dataclass(frozen=True)
class Lineage:
    installed: str | None = None  # the Secret's credentials this pod installed last
    written: tuple[str, ...] = ()  # the credentials this pod wrote back (or tried to) last, newest first

    def holds(self, raw: bytes | None) -> bool:
        """``raw`` (the Secret's credentials) is what this pod installed or wrote last."""
        return raw is not None and (_digest(raw) == self.installed or _digest(raw) in self.written)

    def installing(self, raw: bytes) -> Lineage:
        return replace(self, installed=_digest(raw))

    def writing(self, raw: bytes) -> Lineage:
        digest = _digest(raw)
        return replace(self, written=(digest, *(d for d in self.written if d != digest))[:KEPT_WRITES])


def read_lineage(config_dir: Path) -> Lineage | None:
    """The record, or None when there is none (a first start, or one from before records were kept)."""
    try:
        data = json.loads((config_dir / LINEAGE_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    installed, written = data.get("installed"), data.get("written")
    return Lineage(
        installed=installed if isinstance(installed, str) else None,
        written=tuple(d for d in written if isinstance(d, str)) if isinstance(written, list) else (),
    )


def save_lineage(config_dir: Path, lineage: Lineage) -> None:
    write_private(
        config_dir / LINEAGE_FILE,
        json.dumps({"installed": lineage.installed, "written": list(lineage.written)}).encode(),
    )
