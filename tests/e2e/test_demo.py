"""`make demo`'s steps against the session's cluster: a completion, the printed example works, and
`demo-down` leaves no process and none of the demo's objects (and keeps a cluster it did not start)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.demo.services import OFFLINE_REPLY
from tests.e2e.harness import REPO, Cluster


def demo(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.demo", *args, "--state-dir", str(state_dir)],
        cwd=REPO, env={**os.environ, "DEMO_OFFLINE": "1"}, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def processes_of(state_dir: Path) -> list[str]:
    """Every process on this machine whose command line or working directory lies in the state dir."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(state_dir) in cmdline or cwd.startswith(str(state_dir)):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


@pytest.mark.timeout(600)
def test_demo_up_answers_and_demo_down_leaves_nothing(cluster: Cluster, tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    suffix = secrets.token_hex(3)
    names = [
        "--namespace",
        f"demo-{suffix}",
        "--operator-namespace",
        f"demo-op-{suffix}",
        "--release",
        f"demo-{suffix}",
    ]
    try:
        up = demo(state_dir, "up", *names, timeout=480)
        assert up.returncode == 0, f"stdout:\n{up.stdout}\nstderr:\n{up.stderr}"
        assert "OFFLINE MODE" in up.stdout
        assert f"reply: {OFFLINE_REPLY}" in up.stdout, up.stdout
        assert re.search(r"^me\s+True\s+LoggedIn", up.stdout, re.MULTILINE), up.stdout
        recorded = json.loads((state_dir / "processes.json").read_text())
        assert sorted(r["name"] for r in recorded) == ["fake-anthropic", "operator", "pod-runner"]
        assert len(processes_of(state_dir)) >= 5, "operator, fake, pod runner, runtime and LiteLLM run"

        # The printed example works as printed.
        base_url = re.search(r'base_url="([^"]+)"', up.stdout)
        api_key = re.search(r'api_key="([^"]+)"', up.stdout)
        assert base_url, up.stdout
        assert api_key, up.stdout
        with httpx.Client(trust_env=False) as http:
            client = openai.OpenAI(base_url=base_url[1], api_key=api_key[1], http_client=http, max_retries=0)
            reply = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "Hello"}])
        assert reply.choices[0].message.content == OFFLINE_REPLY
    finally:
        down = demo(state_dir, "down", timeout=300)
    assert down.returncode == 0, f"stdout:\n{down.stdout}\nstderr:\n{down.stderr}"
    assert processes_of(state_dir) == []
    assert not state_dir.exists()
    assert cluster.kubectl("get", "--raw", "/readyz").returncode == 0, "a cluster the demo did not start stays up"
    for ns in (f"demo-{suffix}", f"demo-op-{suffix}"):
        assert cluster.kubectl("get", "namespace", ns, check=False).returncode != 0, f"namespace {ns} is left"
    assert cluster.kubectl("get", "clusterrole", f"demo-{suffix}-claude-code-operator", check=False).returncode != 0

    again = demo(state_dir, "down", timeout=60)
    assert again.returncode == 0, again.stderr
    assert "nothing to stop" in again.stdout, again.stdout
