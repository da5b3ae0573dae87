"""The generated Secret: the runtime token and the login fingerprint key (always) and the LiteLLM master
key (unless the spec names one). Values are generated once and kept: existing values always win over new
ones."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from .. import contract
from ..api.resource import Provider
from . import names


def wanted_keys(provider: Provider) -> tuple[str, ...]:
    if provider.spec.master_key_secret is None:
        return (contract.RUNTIME_TOKEN_KEY, names.FINGERPRINT_KEY_KEY, contract.MASTER_KEY_KEY)
    return (contract.RUNTIME_TOKEN_KEY, names.FINGERPRINT_KEY_KEY)


def derive_keys_digest(data: Mapping[str, bytes]) -> str:
    """Any change of the generated keys (a rotation: the Secret deleted and made anew) changes it."""
    digest = hashlib.sha256()
    for key, value in sorted(data.items()):
        digest.update(f"{key}={len(value)}:".encode() + value)
    return digest.hexdigest()[:32]


def render_keys_secret(
    provider: Provider, existing: Mapping[str, bytes], new_value: Callable[[str], str]
) -> dict[str, Any] | None:
    """The Secret to write, or None when `existing` already holds every wanted key.
    `new_value(key)` makes a fresh random value for a missing key."""
    missing = [key for key in wanted_keys(provider) if not existing.get(key)]
    if not missing:
        return None
    data = {key: existing[key] for key in wanted_keys(provider) if existing.get(key)}
    data.update({key: new_value(key).encode() for key in missing})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": names.metadata(provider, names.keys_secret_name(provider.name)),
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in sorted(data.items())},
    }


def to_keys_values(manifest: Mapping[str, Any]) -> dict[str, bytes]:
    """The values of a keys Secret manifest rendered above."""
    return {key: base64.b64decode(value) for key, value in manifest["data"].items()}
