"""Starts one container of the pod runner's image mode: `python -m claude_code_devkit.image_launch PLAN.json`, as root.

The plan (`image_runtime.LaunchPlan`, written by the pod runner) names the container's root filesystem
(a `buildah mount` of its working container), its mounts, user, working directory and argv. In a mount
namespace of its own (so every mount here vanishes with the container's last process) this process
bind-mounts the volumes at their mount paths, gives the root a fresh /proc, a minimal /dev and the pod's
/etc/hosts, makes the root read-only when the plan says so, then chroots, drops to the container's
user and groups (no new privileges) and execs the container's program in place of itself: the pod
runner's process is the container's, and SIGTERM/SIGKILL to its process group stop it as before.
The network is the host's (the pod runner's loopback addresses), as under buildah's chroot isolation.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path

from claude_code_devkit.image_runtime import DEVICE_LINKS, DEVICES, LaunchPlan, Mount, resolve_in_root

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def mount(source: str | None, target: Path, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(_bytes(source), str(target).encode(), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
        f"mount {source} on {target}",
    )


def bind(source: Path, target: Path, read_only: bool) -> None:
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=True)
    mount(str(source), target, None, MS_BIND | MS_REC)
    if read_only:  # a bind mount takes its flags from a remount of itself, not from the first call
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def prepare_root(plan: LaunchPlan) -> None:
    root = Path(plan.root)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount(None, Path("/"), None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    mount(str(root), root, None, MS_BIND)  # the root as a mount of its own, to remount read-only last
    proc = resolve_in_root(root, "/proc")
    proc.mkdir(exist_ok=True)
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    dev = resolve_in_root(root, "/dev")
    dev.mkdir(exist_ok=True)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k")
    for name in DEVICES:
        bind(Path("/dev") / name, dev / name, read_only=False)
    (dev / "shm").mkdir()
    mount("shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m")
    for name, target in DEVICE_LINKS.items():
        (dev / name).symlink_to(target)
    for m in plan.mounts:  # parents before children: the plan is ordered by mount path
        bind(Path(m.source), resolve_in_root(root, m.target), m.read_only)
    resolve_in_root(root, plan.working_dir).mkdir(parents=True, exist_ok=True)  # as runc does
    if plan.read_only_root:
        mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def become(plan: LaunchPlan) -> None:
    os.chroot(plan.root)
    os.chdir(plan.working_dir)
    os.setgroups(list(plan.groups))
    os.setgid(plan.gid)
    os.setuid(plan.uid)
    if plan.no_new_privileges:
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.umask(0o022)


def main(path: str) -> None:
    raw = json.loads(Path(path).read_text())
    plan = LaunchPlan(**{**raw, "mounts": tuple(Mount(**m) for m in raw["mounts"])})
    prepare_root(plan)
    become(plan)
    os.execvpe(plan.argv[0], list(plan.argv), dict(plan.env))


if __name__ == "__main__":
    main(sys.argv[1])
