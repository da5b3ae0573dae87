"""`make proxy` keeps the master key it makes readable by its owner only, whatever the caller's umask."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from claude_code_devkit.paths import REPO


def run_make_proxy(venv: Path) -> subprocess.CompletedProcess[str]:
    """The real recipe, with a stand-in ``litellm`` that records the key it was started with."""
    bin_dir = venv / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / ".installed").touch()  # newer than the recipe's inputs: `install` has nothing to do
    litellm = bin_dir / "litellm"
    litellm.write_text(f'#!/bin/sh\nprintf %s "$LITELLM_MASTER_KEY" > {venv}/started-with\n')
    litellm.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_MASTER_KEY"}
    return subprocess.run(
        ["make", "--no-print-directory", "proxy", f"VENV={venv}", f"BIN={bin_dir}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_the_master_key_file_is_made_0600_and_used(tmp_path: Path) -> None:
    venv = tmp_path / "venv"

    result = run_make_proxy(venv)

    key_file = venv / "litellm-master-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert re.fullmatch(r"sk-[0-9a-f]{48}", key)
    assert (venv / "started-with").read_text() == key
    assert f"API key {key}" in result.stdout


def test_a_key_file_left_world_readable_is_tightened_and_kept(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    key_file = venv / "litellm-master-key"
    key_file.write_text("sk-" + "a" * 48 + "\n")
    key_file.chmod(0o644)

    run_make_proxy(venv)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (venv / "started-with").read_text() == "sk-" + "a" * 48
