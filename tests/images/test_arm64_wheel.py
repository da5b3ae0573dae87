"""The release builds linux/arm64 too: the pinned claude-agent-sdk must publish an arm64 wheel that bundles
its Claude Code CLI, the same release as the amd64 one this machine runs. Downloads that wheel from the
package index (about 100 MB), on purpose past the tests' network isolation."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ENV_BEFORE_ISOLATION

from claude_code_devkit.paths import REPO

BUNDLED = "claude_agent_sdk/_bundled/claude"
EM_AARCH64 = 183  # ELF e_machine


def pinned(name: str) -> str:
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def test_the_pinned_sdk_has_an_arm64_wheel_with_its_cli(tmp_path: Path) -> None:
    version = pinned("claude-agent-sdk")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--platform", "manylinux_2_17_aarch64", "--python-version", "3.11",
         "--dest", str(tmp_path), f"claude-agent-sdk=={version}"],
        check=True, env=ENV_BEFORE_ISOLATION, timeout=600,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("claude_agent_sdk-*.whl")
    assert wheel.name.startswith(f"claude_agent_sdk-{version}-")
    assert "aarch64" in wheel.name
    with zipfile.ZipFile(wheel) as z:
        with z.open(BUNDLED) as cli:
            header = cli.read(20)
        cli_version = z.read(f"{BUNDLED}.version").decode().strip()
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64
    import claude_agent_sdk

    here = (Path(claude_agent_sdk.__file__).parent / "_bundled/claude.version").read_text().strip()
    assert cli_version == here  # the same Claude Code release on both architectures
