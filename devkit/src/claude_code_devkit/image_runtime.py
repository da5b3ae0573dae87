"""The pod runner's image mode (the default; `POD_IMAGES=0` turns it off): a container runs from its
image's root filesystem.

Each container of a pod gets a buildah working container of its image (`buildah from --pull=never`,
`buildah mount`: an overlay over the image's layers, nothing copied) and `image_launch` starts its
program there: the pod's command and args (else the image's entrypoint and cmd, as a kubelet does),
the image's env under the container's, `runAsUser` / `runAsGroup` (container, else pod, else the image's
user), `fsGroup` and `supplementalGroups`, the working directory, the volumes at their real mount paths
(Secret, ConfigMap, projected and downward-API volumes read-only, as a kubelet mounts them), and a
read-only root filesystem where `readOnlyRootFilesystem` says so. The planning here is pure, apart from
reading the image's /etc/passwd and /etc/group; the mounts and the chroot are `image_launch`'s.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from claude_code_devkit.buildah import Container, has_image, image_config, image_refs

#: `0`: the pod runner runs the programs of .venv/bin instead (quick local runs); anything else, or unset,
#: the images `make images` built (what CI, `make test` and `make demo` run).
IMAGE_MODE_VARIABLE = "POD_IMAGES"
#: Host devices a container's /dev holds (as a container runtime's default set, less the tty).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}
#: Volume kinds a kubelet always mounts read-only, whatever the volumeMount says.
READ_ONLY_KINDS = ("secret", "config_map", "projected", "downward_api")
_MAX_SYMLINKS = 40


class ContainerPlanError(RuntimeError):
    """The container cannot start as its pod spec and image say; the message says why."""


def image_mode_refs(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The images the pod runner runs from their root filesystems: those `make images` tags, unless opted out."""
    return frozenset() if environ.get(IMAGE_MODE_VARIABLE) == "0" else frozenset(image_refs().values())


@dataclass(frozen=True)
class Mount:
    source: str  # on the host
    target: str  # in the container
    read_only: bool


@dataclass(frozen=True)
class LaunchPlan:
    """What `image_launch` does for one container (JSON between the two processes)."""

    root: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    uid: int
    gid: int
    groups: tuple[int, ...]
    working_dir: str
    read_only_root: bool
    no_new_privileges: bool
    mounts: tuple[Mount, ...]


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image's OCI config a container runtime uses."""

    env: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    working_dir: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()

    @classmethod
    def from_oci(cls, config: Mapping[str, Any]) -> ImageConfig:
        return cls(
            env=dict(entry.split("=", 1) for entry in config.get("Env") or [] if "=" in entry),
            user=config.get("User") or "",
            working_dir=config.get("WorkingDir") or "",
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
        )


@dataclass(frozen=True)
class Accounts:
    """An image's /etc/passwd and /etc/group: name -> (uid, gid, home), name -> gid."""

    users: Mapping[str, tuple[int, int, str]] = field(default_factory=dict)
    groups: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, passwd: str, group: str) -> Accounts:
        users = {f[0]: (int(f[2]), int(f[3]), f[5]) for f in _records(passwd, 7)}
        return cls(users, {f[0]: int(f[2]) for f in _records(group, 3)})

    @classmethod
    def read(cls, root: Path) -> Accounts:
        def text(path: str) -> str:
            file = resolve_in_root(root, path)
            return file.read_text() if file.is_file() else ""

        return cls.parse(text("/etc/passwd"), text("/etc/group"))

    def by_uid(self, uid: int) -> tuple[int, int, str] | None:
        return next((user for user in self.users.values() if user[0] == uid), None)


def _records(text: str, width: int) -> list[list[str]]:
    return [f for f in (line.split(":") for line in text.splitlines()) if len(f) >= width and f[2].isdigit()]


def image_user(spec: str, accounts: Accounts) -> tuple[int | None, int | None]:
    """The image's `User` ("", "10001", "10001:10001", "claude", "claude:claude") as (uid, gid or None)."""
    user, _, group = spec.partition(":")
    uid: int | None
    if not user:
        uid = None
    elif user.isdigit():
        uid = int(user)
    elif user in accounts.users:
        uid = accounts.users[user][0]
    else:
        raise ContainerPlanError(f"the image's user {user!r} is not in its /etc/passwd")
    if not group:
        return uid, None
    if group.isdigit():
        return uid, int(group)
    if group in accounts.groups:
        return uid, accounts.groups[group]
    raise ContainerPlanError(f"the image's group {group!r} is not in its /etc/group")


def identity(
    pod_context: Any, container_context: Any, image: ImageConfig, accounts: Accounts
) -> tuple[int, int, tuple[int, ...]]:
    """(uid, gid, groups) as a kubelet runs the container: the container's securityContext, else the
    pod's, else the image's user; the primary group from the passwd entry where nothing names one;
    fsGroup and supplementalGroups as supplementary groups. runAsNonRoot refuses uid 0."""
    image_uid, image_gid = image_user(image.user, accounts)
    uid = _first(_get(container_context, "run_as_user"), _get(pod_context, "run_as_user"), image_uid, 0)
    entry = accounts.by_uid(uid)
    gid = _first(
        _get(container_context, "run_as_group"),
        _get(pod_context, "run_as_group"),
        image_gid,
        entry[1] if entry else None,
        0,
    )
    non_root = _first(_get(container_context, "run_as_non_root"), _get(pod_context, "run_as_non_root"), False)
    if non_root and uid == 0:
        raise ContainerPlanError("runAsNonRoot is set and the container would run as uid 0")
    extra = [*(_get(pod_context, "supplemental_groups") or []), _get(pod_context, "fs_group")]
    groups = [gid]
    groups += [g for g in extra if g is not None and g not in groups]
    return uid, gid, tuple(groups)


def kubernetes_argv(command: Sequence[str], args: Sequence[str], image: ImageConfig) -> list[str]:
    """A container's argv: `command` replaces the image's entrypoint (and drops its cmd), `args` its cmd."""
    argv = [*command, *args] if command else [*image.entrypoint, *(args or image.cmd)]
    if not argv:
        raise ContainerPlanError("neither the container nor its image names a program")
    return argv


def plan_mounts(
    container: Any, volume_dirs: Mapping[str, Path], read_only_volumes: set[str], extra: Sequence[Mount] = ()
) -> tuple[Mount, ...]:
    """The container's volumeMounts as bind mounts (plus `extra`), parents before children."""
    mounts = list(extra)
    for m in container.volume_mounts or []:
        source = volume_dirs[m.name] / m.sub_path if m.sub_path else volume_dirs[m.name]
        read_only = bool(m.read_only) or m.name in read_only_volumes
        mounts.append(Mount(str(source), m.mount_path, read_only))
    return tuple(sorted(mounts, key=lambda m: len(PurePosixPath(m.target).parts)))


def read_only_volume_names(pod: Any) -> set[str]:
    return {v.name for v in pod.spec.volumes or [] if any(getattr(v, kind) is not None for kind in READ_ONLY_KINDS)}


def plan_container(
    pod: Any,
    container: Any,
    *,
    root: Path,
    image: ImageConfig,
    accounts: Accounts,
    argv: Sequence[str],
    env: Mapping[str, str],
    volume_dirs: Mapping[str, Path],
    extra_mounts: Sequence[Mount] = (),
) -> LaunchPlan:
    """The launch of one container: `argv` and `env` are the pod's (expanded); the image fills in the rest."""
    context = container.security_context
    uid, gid, groups = identity(pod.spec.security_context, context, image, accounts)
    full_env = {**image.env, "HOSTNAME": pod.metadata.name, **env}
    if "HOME" not in full_env:  # as runc: the user's home from the image's passwd, else /
        entry = accounts.by_uid(uid)
        full_env["HOME"] = entry[2] if entry else "/"
    return LaunchPlan(
        root=str(root),
        argv=tuple(argv),
        env=full_env,
        uid=uid,
        gid=gid,
        groups=groups,
        working_dir=container.working_dir or image.working_dir or "/",
        read_only_root=_get(context, "read_only_root_filesystem") is True,
        no_new_privileges=_get(context, "allow_privilege_escalation") is False,
        mounts=plan_mounts(container, volume_dirs, read_only_volume_names(pod), extra_mounts),
    )


def resolve_in_root(root: Path, path: str) -> Path:
    """`path` of the container as a host path under `root`, its symlinks resolved inside `root`: a mount
    target must never follow the image's absolute symlinks (Debian's /var/run -> /run) onto the host."""
    todo = list(PurePosixPath(path).parts[1:])
    resolved: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            resolved = resolved[:-1]
            continue
        candidate = root.joinpath(*resolved, part)
        if not candidate.is_symlink():
            resolved.append(part)
            continue
        hops += 1
        if hops > _MAX_SYMLINKS:
            raise ContainerPlanError(f"{path}: too many symlinks in the image")
        target = PurePosixPath(os.readlink(candidate))
        if target.is_absolute():
            resolved, todo = [], [*target.parts[1:], *todo]
        else:
            todo = [*target.parts, *todo]
    return root.joinpath(*resolved)


def apply_fs_group(volume: Path, fs_group: int | None, read_only: bool) -> None:
    """A kubelet's volume ownership: group fsGroup, group-readable (and -writable unless read-only),
    directories setgid; without fsGroup the files stay as written (root's)."""
    if fs_group is None:
        return
    mask = 0o440 if read_only else 0o660
    for path in [volume, *volume.rglob("*")]:
        os.lchown(path, -1, fs_group)
        if path.is_symlink():
            continue
        extra = mask | 0o110 | stat.S_ISGID if path.is_dir() else mask
        path.chmod(stat.S_IMODE(path.stat().st_mode) | extra)


#: The prefix of every working container the pod runner makes: `buildah containers` shows whose it is.
WORKING_CONTAINER_PREFIX = "podrunner-"


def working_container_name(namespace: str, pod: str, container: str, uid: str) -> str:
    """`podrunner-<namespace>-<pod>-<container>-<uid8>`: unique (the pod's uid), and telling which
    test or demo left it when one is left behind."""
    return f"{WORKING_CONTAINER_PREFIX}{namespace}-{pod}-{container}-{uid[:8]}"


class WorkingContainers:
    """The buildah working containers of the pod runner's containers: one per container, removed with it."""

    def __init__(self) -> None:
        self._configs: dict[str, ImageConfig] = {}

    def config(self, ref: str) -> ImageConfig:
        if ref not in self._configs:
            if not has_image(ref):
                raise ContainerPlanError(f"image {ref} is not in buildah's storage: run `make images`")
            self._configs[ref] = ImageConfig.from_oci(image_config(ref))
        return self._configs[ref]

    def create(self, ref: str, name: str) -> tuple[Container, Path]:
        self.config(ref)
        made = Container.create(ref, name)
        try:
            return made, made.mount()
        except BaseException:
            made.remove()
            raise


def _get(context: Any, name: str) -> Any:
    return None if context is None else getattr(context, name, None)


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
