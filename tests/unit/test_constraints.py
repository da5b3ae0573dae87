"""The images' constraints.txt pins every dependency of both packages (`make constraints`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not an exact pin"
            pins[normalise(name)] = version
    return pins


@pytest.mark.parametrize("package", ["operator", "provider"])
def test_every_dependency_of_the_image_is_pinned(package: str) -> None:
    project = tomllib.loads((REPO / package / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = {normalise(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}
    missing = sorted(names - set(pinned()))
    assert missing == [], f"not pinned in constraints.txt: {missing}; run `make install constraints`"
