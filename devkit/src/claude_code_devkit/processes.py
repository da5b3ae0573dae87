"""Processes the kit and the tests start and watch: one way to stop a process group, /proc lookups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def terminate_group(
    pid: int, *, exited: Callable[[], bool], timeout: float, reserved: bool = False, interval: float = 0.05
) -> None:
    """SIGTERM to the process group `pid` leads, then SIGKILL unless `exited()` within `timeout` seconds.

    `reserved`: the leader is our child and not reaped yet, so its group id cannot have been reused:
    the SIGKILL goes out even after the leader exited, for any stragglers of its group. Otherwise (a
    recorded pid of a detached process) nothing is signalled once it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not exited() and time.monotonic() < deadline:
        time.sleep(interval)
    if reserved or not exited():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Stop a child started with `start_new_session=True` (its group): TERM, KILL after `timeout`
    seconds; returns its exit code. The leader is only reaped after the group got its SIGKILL, so the
    group id (its pid) cannot have been reused by an unrelated process when it is signalled."""
    if process.returncode is not None:
        return process.returncode

    def exited() -> bool:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    with contextlib.suppress(ChildProcessError):  # reaped meanwhile by Popen.poll() in another thread
        terminate_group(process.pid, exited=exited, timeout=timeout, reserved=True)
    return process.wait(timeout=10)


def descendants(pid: int, *, direct: bool = False) -> list[int]:
    """Every live process below ``pid`` (only its children with ``direct``), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    if direct:
        return children.get(pid, [])
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def environment(pid: int) -> dict[str, str]:
    """A live process's environment, as it was given at its start."""
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode(errors="replace").split("\0") if "=" in entry)


def working_directory(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def claude_processes(pid: int, *, direct: bool = False) -> list[int]:
    """The Claude Code CLI processes below ``pid`` (only its children with ``direct``)."""
    return [p for p in descendants(pid, direct=direct) if "claude" in command_line(p).split(" ")[0].rsplit("/", 1)[-1]]


class Process:
    """A child process whose output goes to a file, stopped (TERM, then KILL) on ``stop``."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=self._handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.popen, timeout)
        self._handle.close()
