"""`make demo`'s steps against the session's cluster: a completion, the printed example works, and
`demo-down` leaves no process and none of the demo's objects (and keeps a cluster it did not start)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from claude_code_devkit.cluster import Cluster
from claude_code_devkit.demo.processes import derive_start_time
from claude_code_devkit.demo.services import OFFLINE_REPLY
from claude_code_devkit.image_runtime import WORKING_CONTAINER_PREFIX, image_mode_refs
from claude_code_devkit.paths import REPO
from claude_code_devkit.processes import command_line, descendants


def demo(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_code_devkit.demo", *args, "--state-dir", str(state_dir)],
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


def demo_processes(state_dir: Path) -> dict[int, str]:
    """pid -> start time of every process of the demo: what `processes_of` finds, and everything below the
    processes the demo recorded (a container the pod runner starts from an image runs chrooted into the
    image's root filesystem: neither its command line nor its working directory names the state dir)."""
    recorded = [r["pid"] for r in json.loads((state_dir / "processes.json").read_text())]
    pids = {int(line.split(":", 1)[0]) for line in processes_of(state_dir)}
    pids |= {p for pid in recorded for p in (pid, *descendants(pid))}
    started = {pid: derive_start_time(pid) for pid in pids}
    return {pid: start for pid, start in started.items() if start is not None}


def still_running(census: dict[int, str]) -> list[str]:
    return [f"{pid}: {command_line(pid)[:200]}" for pid, start in census.items() if derive_start_time(pid) == start]


def working_containers(prefix: str) -> list[str]:
    """The buildah working containers whose names start with `prefix` (the pod runner's image mode)."""
    if shutil.which("buildah") is None:
        return []
    out = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"], check=True, capture_output=True, text=True
    ).stdout
    return [name for name in out.split() if name.startswith(prefix)]


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
        assert re.search(r"^me\s+True\s+Ready\s+LoggedIn", up.stdout, re.MULTILINE), up.stdout
        recorded = json.loads((state_dir / "processes.json").read_text())
        assert sorted(r["name"] for r in recorded) == ["fake-anthropic", "operator", "pod-runner"]
        census = demo_processes(state_dir)
        assert len(census) >= 5, "operator, fake, pod runner, runtime and LiteLLM run"
        pods = f"{WORKING_CONTAINER_PREFIX}demo-{suffix}-"
        if image_mode_refs():
            assert len(working_containers(pods)) == 2, "the provider pod's two containers run from their images"

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
    assert still_running(census) == []
    assert working_containers(pods) == [], "demo-down removes the working containers of the images"
    assert not state_dir.exists()
    assert cluster.kubectl("get", "--raw", "/readyz").returncode == 0, "a cluster the demo did not start stays up"
    for ns in (f"demo-{suffix}", f"demo-op-{suffix}"):
        assert cluster.kubectl("get", "namespace", ns, check=False).returncode != 0, f"namespace {ns} is left"
    assert cluster.kubectl("get", "clusterrole", f"demo-{suffix}-claude-code-operator", check=False).returncode != 0

    again = demo(state_dir, "down", timeout=60)
    assert again.returncode == 0, again.stderr
    assert "nothing to stop" in again.stdout, again.stdout
