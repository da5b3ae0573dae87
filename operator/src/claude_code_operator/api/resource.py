"""A ClaudeCodeProvider as the operator sees it: identity plus the validated spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from .spec import GROUP, KIND, VERSION, ClaudeCodeProviderSpec


class Provider(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    uid: str
    generation: int
    spec: ClaudeCodeProviderSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Provider:
        """Parse once at the edge: a resource body (a dict or kopf's Body) becomes a typed Provider."""
        meta = body["metadata"]
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            generation=int(meta.get("generation") or 0),
            spec=ClaudeCodeProviderSpec.model_validate(dict(body.get("spec") or {})),
        )

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
