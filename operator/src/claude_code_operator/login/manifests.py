"""Pure: the login Secret and the ClaudeCodeProvider as manifests, and their masked YAML for --dry-run.

The resource is built with the operator's own spec model, so it cannot drift from the CRD. The login
command owns `spec.credentials`' Secret name and key names (they must match the Secret it writes) and
`spec.owner`; every other field is left to whoever else applies the resource.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import yaml

from ..api.spec import GROUP, KIND, VERSION, ClaudeCodeProviderSpec, Credentials
from ..contract import EXPIRES_AT_ANNOTATION, PROVIDER_LABEL, WRITTEN_BY_ANNOTATION, WRITTEN_BY_COMMAND
from ..wire import to_rfc3339
from .labels import LOGIN_KIND_LABEL, PART_OF, PART_OF_LABEL
from .validate import Login

#: The fields of spec.credentials that must match the Secret this command writes; any other (write-back,
#: expiry warnings, ...) stays with whoever set it.
OWNED_CREDENTIALS_FIELDS = {"secret_name", "credentials_key", "claude_json_key", "oauth_token_key"}


def render_login_secret(namespace: str, name: str, provider: str, login: Login, expires_at: datetime) -> dict[str, Any]:
    """`provider`: the one ClaudeCodeProvider the Secret is for (its opt-in label, `claims`)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {PART_OF_LABEL: PART_OF, LOGIN_KIND_LABEL: login.kind, PROVIDER_LABEL: provider},
            "annotations": {
                EXPIRES_AT_ANNOTATION: to_rfc3339(expires_at),
                WRITTEN_BY_ANNOTATION: WRITTEN_BY_COMMAND,
            },
        },
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in sorted(login.data.items())},
    }


def render_provider(namespace: str, name: str, secret_name: str, owner: str | None) -> dict[str, Any]:
    spec = ClaudeCodeProviderSpec(credentials=Credentials(secret_name=secret_name), owner=owner)
    fields: dict[str, Any] = {"credentials": OWNED_CREDENTIALS_FIELDS}
    if owner:
        fields["owner"] = True
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.model_dump(mode="json", by_alias=True, include=fields),
    }


def render_masked_yaml(manifests: list[dict[str, Any]]) -> str:
    """The manifests as YAML documents, every Secret value replaced by its size."""
    return yaml.safe_dump_all([_masked(m) if m["kind"] == "Secret" else m for m in manifests], sort_keys=False)


def _masked(secret: dict[str, Any]) -> dict[str, Any]:
    sizes = {key: len(base64.b64decode(value)) for key, value in secret["data"].items()}
    return {**secret, "data": {key: f"<masked: {size} bytes>" for key, size in sizes.items()}}
