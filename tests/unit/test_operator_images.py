"""Images come from the operator's allow-list: a resource asking for another gets no pod, and is told why."""

from __future__ import annotations

from typing import Any

import pytest

from claude_code_operator.api.resource import Provider
from claude_code_operator.render.images import derive_image_refusal, is_allowed_image, to_repository

DEFAULT = ("ghcr.io/claude-code-operator/claude-code-provider",)


def provider(**spec: Any) -> Provider:
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {"credentials": {"secretName": "alice-login"}, **spec},
    }
    return Provider.from_body(body)


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        (
            "ghcr.io/claude-code-operator/claude-code-provider:0.1.0",
            "ghcr.io/claude-code-operator/claude-code-provider",
        ),
        ("registry.example:5000/team/provider", "registry.example:5000/team/provider"),
        ("registry.example:5000/team/provider:v1@sha256:ab", "registry.example:5000/team/provider"),
        ("provider@sha256:ab", "provider"),
    ],
)
def test_the_repository_is_the_image_without_tag_or_digest(image: str, repository: str) -> None:
    assert to_repository(image) == repository


def test_an_entry_allows_its_own_repository_and_a_prefix_everything_under_it() -> None:
    assert is_allowed_image("ghcr.io/claude-code-operator/claude-code-provider:0.2.0", DEFAULT)
    assert is_allowed_image("ghcr.io/claude-code-operator/claude-code-provider@sha256:ab", DEFAULT)
    assert not is_allowed_image("ghcr.io/claude-code-operator/claude-code-provider-evil:1", DEFAULT)
    assert not is_allowed_image("ghcr.io/claude-code-operator/claude-code-provider/x:1", DEFAULT)
    assert not is_allowed_image("evil.example/claude-code-provider:0.1.0", DEFAULT)
    assert is_allowed_image("registry.example/team/provider:1", ("registry.example/team/",))
    assert not is_allowed_image("registry.example/teammate/provider:1", ("registry.example/team/",))


def test_the_default_images_are_allowed_by_the_default_list() -> None:
    assert derive_image_refusal(provider(), DEFAULT) is None


def test_another_image_is_refused_naming_the_field_the_image_and_the_setting() -> None:
    refusal = derive_image_refusal(provider(runtime={"image": "evil.example/steal:1"}), DEFAULT)
    assert refusal == (
        "spec.runtime.image 'evil.example/steal:1' is not allowed by the operator's allowedImages (chart value; "
        "--allowed-image), which allows ghcr.io/claude-code-operator/claude-code-provider. Use an image from "
        "there (or remove the field for the default), or ask the operator's administrator to add the repository. "
        "No pod is started until then."
    )
    both = derive_image_refusal(
        provider(runtime={"image": "evil.example/a:1"}, litellm={"image": "evil.example/b:1"}), DEFAULT
    )
    assert both is not None
    assert both.startswith("spec.runtime.image 'evil.example/a:1' and spec.litellm.image 'evil.example/b:1' are not")
