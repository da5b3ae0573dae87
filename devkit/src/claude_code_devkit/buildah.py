"""Images as buildah runs them: a working container per use, commands in its root filesystem as the
image's user, on the host's network (chroot isolation: no daemon, no container runtime)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from claude_code_devkit.paths import REPO
from claude_code_devkit.processes import Process

BUILD = REPO / "images/build.sh"


def image_refs() -> dict[str, str]:
    """Component -> the reference `make images` tags (operator, provider)."""
    out = subprocess.run([BUILD, "tags"], check=True, capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def image_config(ref: str) -> dict[str, Any]:
    """The image's OCI config (User, Env, Labels, Entrypoint, ...)."""
    out = subprocess.run(
        ["buildah", "inspect", "--type", "image", ref], check=True, capture_output=True, text=True
    ).stdout
    config: dict[str, Any] = json.loads(out)["OCIv1"]["config"]
    return config


def has_image(ref: str) -> bool:
    found = subprocess.run(["buildah", "inspect", "--type", "image", ref], check=False, capture_output=True)
    return found.returncode == 0


@dataclass
class Container:
    name: str

    @classmethod
    def create(cls, ref: str, name: str | None = None) -> Container:
        """A working container of `ref` (buildah names it after the image unless `name` does)."""
        named = ["--name", name] if name else []
        out = subprocess.run(
            ["buildah", "from", "--pull-never", *named, ref], check=True, capture_output=True, text=True
        ).stdout
        return cls(out.strip())

    def remove(self) -> None:
        subprocess.run(["buildah", "rm", self.name], check=False, capture_output=True)

    def mount(self) -> Path:
        out = subprocess.run(["buildah", "mount", self.name], check=True, capture_output=True, text=True).stdout
        return Path(out.strip())

    def resolve(self, path: str) -> str:
        """``path`` with the image's own symlinks resolved inside its root filesystem. buildah 1.28's
        chroot isolation follows an absolute symlink on a mount target (Debian's /var/run -> /run) on the
        host instead, mounting outside the container."""
        root, resolved = self.mount(), PurePosixPath("/")
        for part in PurePosixPath(path).parts[1:]:
            candidate = root / (resolved / part).relative_to("/")
            if candidate.is_symlink():
                target = PurePosixPath(os.readlink(candidate))
                resolved = target if target.is_absolute() else resolved / target
            else:
                resolved = resolved / part
        return str(resolved)

    def command(
        self, args: list[str], *, env: dict[str, str] | None = None, volumes: dict[Path, str] | None = None
    ) -> list[str]:
        """`buildah run` of ``args`` as the image's user, with ``env`` and host paths bind-mounted read-only."""
        cmd = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        for name, value in (env or {}).items():
            cmd += ["--env", f"{name}={value}"]
        for host, path in (volumes or {}).items():
            cmd += ["--volume", f"{host}:{self.resolve(path)}:ro"]
        return [*cmd, self.name, "--", *args]

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(args, **kwargs), check=False, capture_output=True, text=True, timeout=120)

    def start(self, args: list[str], *, log: Path, **kwargs: Any) -> Process:
        return Process(self.command(args, **kwargs), env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, log=log)
