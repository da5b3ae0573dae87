"""Pure: may the pod run the images the spec asks for? Only repositories of the operator's allow-list
(`OperatorConfig.allowed_images`, the chart's `allowedImages`): the `claude` container mounts a login and
the sidecar the master key, so an image of the resource's own choosing would be handed both."""

from __future__ import annotations

from collections.abc import Sequence

from ..api.resource import Provider

#: Where the allow-list is set, as a person would change it.
SETTING = "the operator's allowedImages (chart value; --allowed-image)"


def to_repository(image: str) -> str:
    """`registry[:port]/path[:tag][@digest]` without its tag and digest."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def is_allowed_image(image: str, allowed: Sequence[str]) -> bool:
    repository = to_repository(image)
    return any(repository == entry or (entry.endswith("/") and repository.startswith(entry)) for entry in allowed)


def derive_image_refusal(provider: Provider, allowed: Sequence[str]) -> str | None:
    """None when every image is allowed, else what to change (the fields and the setting, by name)."""
    asked = {"spec.runtime.image": provider.spec.runtime.image, "spec.litellm.image": provider.spec.litellm.image}
    refused = [f"{field} {image!r}" for field, image in asked.items() if not is_allowed_image(image, allowed)]
    if not refused:
        return None
    return (
        f"{' and '.join(refused)} {'is' if len(refused) == 1 else 'are'} not allowed by {SETTING}, which allows "
        f"{', '.join(allowed) or 'no image'}. Use an image from there (or remove the field for the default), "
        "or ask the operator's administrator to add the repository. No pod is started until then."
    )
