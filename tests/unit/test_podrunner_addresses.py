"""The pod runner's emulated pod network: which addresses mean "this pod", and which programs may run."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_code_devkit.podrunner import PodRunnerError, resolve_program, rewrite_pod_addresses

POD_IP = "127.100.0.7"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0.0.0", POD_IP),
        ("127.0.0.1", POD_IP),
        ("http://127.0.0.1:8081", f"http://{POD_IP}:8081"),
        ("--bind=0.0.0.0:4000,127.0.0.1:8081", f"--bind={POD_IP}:4000,{POD_IP}:8081"),
        ("127.0.0.10", "127.0.0.10"),
        ("10.127.0.0.1", "10.127.0.0.1"),
        ("127.0.0.1.5", "127.0.0.1.5"),
        ("localhost:8081", "localhost:8081"),
        ("", ""),
    ],
)
def test_only_the_pods_own_addresses_become_its_ip(value: str, expected: str) -> None:
    assert rewrite_pod_addresses(value, POD_IP) == expected


def test_programs_come_from_the_mapping_or_the_search_dirs_never_path(tmp_path: Path) -> None:
    tool = tmp_path / "litellm"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert resolve_program("/usr/local/bin/litellm", search_dirs=[tmp_path]) == [str(tool)]
    assert resolve_program("litellm", {"litellm": ["python", "stand-in.py"]}, [tmp_path]) == ["python", "stand-in.py"]
    with pytest.raises(PodRunnerError, match="no local program for 'sh'"):
        resolve_program("sh", search_dirs=[tmp_path])
