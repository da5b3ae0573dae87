"""The images tier: what `make images` built, checked from the inside (`make test-images`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from claude_code_devkit.buildah import Container, has_image, image_refs

REFS = image_refs()


@pytest.fixture(scope="session", params=sorted(REFS))
def component(request: pytest.FixtureRequest) -> str:
    """Each image in turn: operator, provider."""
    ref = REFS[request.param]
    assert has_image(ref), f"{ref} is not in buildah's storage: run `make images`"
    return str(request.param)


@pytest.fixture
def container() -> Iterator[Callable[[str], Container]]:
    """A working container of a component's image, removed after the test."""
    made: list[Container] = []

    def _make(component: str) -> Container:
        made.append(Container.create(REFS[component]))
        return made[-1]

    yield _make
    for c in made:
        c.remove()
