"""The demo's background processes: started detached, recorded in the state dir, stopped by pid.

Each record keeps the pid and the process's start time (from /proc), so `demo-down` never signals
a pid that was reused by an unrelated process after a reboot or a crash.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from claude_code_devkit.processes import terminate_group

STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Record:
    name: str
    pid: int
    started: str  # field 22 of /proc/<pid>/stat: the process's start time in clock ticks
    log: str


def derive_start_time(pid: int) -> str | None:
    """The start time of `pid` from /proc, or None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after its closing ')' do not.
    return stat.rsplit(")", 1)[1].split()[19]


def is_running(record: Record) -> bool:
    """The recorded process still runs (same pid, same start time) and is not a zombie."""
    if derive_start_time(record.pid) != record.started:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


def _records_path(state_dir: Path) -> Path:
    return state_dir / "processes.json"


def load_records(state_dir: Path) -> list[Record]:
    path = _records_path(state_dir)
    if not path.is_file():
        return []
    return [Record(**item) for item in json.loads(path.read_text())]


def _save_records(state_dir: Path, records: Sequence[Record]) -> None:
    _records_path(state_dir).write_text(json.dumps([asdict(r) for r in records], indent=1))


def start_detached(state_dir: Path, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Record:
    """Start `argv` in its own session (it outlives `make demo`), output to <state>/<name>.log."""
    log = state_dir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return remember(state_dir, name, popen.pid, log)


def remember(state_dir: Path, name: str, pid: int, log: Path) -> Record:
    started = derive_start_time(pid)
    if started is None:
        raise RuntimeError(f"{name} (pid {pid}) exited at once; its log: {log}")
    record = Record(name, pid, started, str(log))
    _save_records(state_dir, [*load_records(state_dir), record])
    return record


def stop_all(state_dir: Path) -> list[str]:
    """SIGTERM every recorded process group (newest first), SIGKILL after STOP_TIMEOUT; returns what stopped."""
    stopped = []
    for record in reversed(load_records(state_dir)):
        if is_running(record):
            _stop(record)
            stopped.append(f"{record.name} (pid {record.pid})")
    _records_path(state_dir).unlink(missing_ok=True)
    return stopped


def _stop(record: Record) -> None:
    terminate_group(record.pid, exited=lambda: not is_running(record), timeout=STOP_TIMEOUT, interval=0.1)
