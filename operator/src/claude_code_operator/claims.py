"""Pure: may this resource use the Secret it names? Only a Secret that opted in, by carrying the label
`claudecode.dev/provider: <this resource's name>` (`contract.PROVIDER_LABEL`).

The label is what a user with the right to write Secrets says; a resource is what anyone with the right to
create resources says. Without the label, naming any Secret of the namespace (a database password) would
have the operator mount it into a pod and grant that pod `get`/`patch` on it. The label is also the
holder of a login: the one resource it names may use it, whatever the creation times, so a resource that
switches to a colleague's Secret is refused while the colleague keeps their pod.

The same holds for `spec.masterKeySecret`: its key becomes the LiteLLM container's environment, so a
Secret named there must be labelled for the resource too (the generated keys Secret, the default, is the
operator's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from .api.resource import Provider
from .contract import PROVIDER_LABEL
from .credentials import CredentialsCheck, label_command
from .render.names import MANAGED_BY, MANAGED_BY_LABEL

#: Which of the resource's Secrets: the login (`spec.credentials.secretName`) or the master key.
SecretRole = Literal["login", "master key"]
_FIELDS: Mapping[SecretRole, str] = {"login": "spec.credentials.secretName", "master key": "spec.masterKeySecret"}


def derive_secret_claim(
    namespace: str, resource: str, secret: str, labels: Mapping[str, str] | None, role: SecretRole = "login"
) -> CredentialsCheck | None:
    """Why `resource` may not use the Secret `secret` with these `labels` (None: the Secret does not exist,
    whose own check says so), or None when it is labelled for this resource."""
    if labels is None:
        return None
    where = f"Secret {namespace}/{secret} ({_FIELDS[role]})"
    if labels.get(MANAGED_BY_LABEL) == MANAGED_BY:
        return CredentialsCheck(
            valid=False,
            reason="SecretNotOptedIn",
            message=f"{where} is one the operator generates, never a {role} Secret. Name a Secret of your own.",
        )
    holder = labels.get(PROVIDER_LABEL)
    if holder == resource:
        return None
    if holder is None:
        return CredentialsCheck(
            valid=False,
            reason="SecretNotOptedIn",
            message=(
                f"{where} is not labelled for this resource: the operator uses only a Secret labelled "
                f"{PROVIDER_LABEL}={resource}. If it is this resource's {role}, label it: "
                f"`{label_command(namespace, secret, resource)}`."
            ),
        )
    return CredentialsCheck(
        valid=False,
        reason="SecretLabelledForOther",
        message=(
            f"{where} is labelled {PROVIDER_LABEL}={holder}: it is ClaudeCodeProvider {holder}'s, and only {holder} "
            f"may use it. Give this resource a Secret of its own, or, if this one is this resource's after all, "
            f"relabel it: `{label_command(namespace, secret, resource, overwrite=True)}`."
        ),
    )


def derive_master_key_missing(namespace: str, secret: str, resource: str) -> CredentialsCheck:
    """spec.masterKeySecret names a Secret that does not exist: the LiteLLM container could not start."""
    return CredentialsCheck(
        valid=False,
        reason="SecretNotFound",
        message=(
            f"Secret {namespace}/{secret} (spec.masterKeySecret) does not exist. Create it with the key the spec "
            f"names, labelled for this resource (`{label_command(namespace, secret, resource)}`), or remove "
            "spec.masterKeySecret to have one generated."
        ),
    )


def derive_claims(
    provider: Provider, login_labels: Mapping[str, str] | None, seen_master_key: tuple[bool, Mapping[str, str] | None]
) -> CredentialsCheck | None:
    """Why the resource may not use the Secrets it names, decided before anything in them is looked at
    (not even their key names reach the status). `login_labels`: the login Secret's labels (None: it does
    not exist); `seen_master_key`: (read, labels) of spec.masterKeySecret's Secret (labels None: it does
    not exist). None: both are this resource's (or the login's own check says it is missing)."""
    ns, name = provider.namespace, provider.name
    refused = derive_secret_claim(ns, name, provider.spec.credentials.secret_name, login_labels)
    given = provider.spec.master_key_secret
    read, master_key_labels = seen_master_key
    if refused is not None or given is None or not read:
        return refused
    if master_key_labels is None:
        return derive_master_key_missing(ns, given.name, name)
    return derive_secret_claim(ns, name, given.name, master_key_labels, "master key")
