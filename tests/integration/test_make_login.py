"""A new user with an empty HOME and no Claude Code installed can log in: `make login` runs the CLI
bundled in the provider's wheel, in this machine's config directory, the one `make proxy` serves."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from claude_code_devkit.paths import REPO, VENV_BIN


def test_make_login_starts_the_bundled_clis_sign_in_with_an_empty_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PATH": "/usr/bin:/bin", "BROWSER": "/bin/true"}
    process = subprocess.Popen(
        # -o: .venv/ is built already, whatever the files' times say
        ["make", "--no-print-directory", "-o", ".venv/bin/.installed", "login"],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    output = b""
    deadline = time.monotonic() + 30
    try:
        while b"Paste code here" not in output and time.monotonic() < deadline and process.poll() is None:
            output += process.stdout.read() or b""
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)
    text = output.decode(errors="replace")
    assert ".venv/bin/claude auth login" in text
    assert "https://claude.ai/oauth/authorize?" in text, text
    assert "Paste code here" in text, text
    assert (home / ".claude").is_dir(), "the CLI works in this machine's config directory"


def test_the_bundled_cli_is_on_the_virtualenvs_path() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "claude"), "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip().endswith("(Claude Code)")
