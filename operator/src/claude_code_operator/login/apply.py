"""The login command's only contact with the cluster: the user's kubeconfig, one read of the login
Secret, and server-side applies as field manager `claude-code-login` (forced: running the command is
the user saying "this is my login now"; the pod's write-back uses its own field manager)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import yaml
from lightkube import ApiError, Client, ConfigError, KubeConfig, SingleConfig, codecs
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from ..kube.api import ClaudeCodeProvider  # noqa: F401 - registers the resource with lightkube's codecs
from .errors import ClusterError
from .labels import FIELD_MANAGER
from .validate import ExistingSecret

#: File paths in a kubeconfig are relative to that file; merged files keep them right by making them absolute.
_PATH_FIELDS = {"cluster": ("certificate-authority",), "user": ("client-certificate", "client-key", "tokenFile")}


def _absolute_paths(config: dict[str, Any], directory: Path) -> dict[str, Any]:
    for section, fields in _PATH_FIELDS.items():
        for entry in config.get(f"{section}s") or []:
            body = entry.get(section) or {}
            for name in fields:
                if body.get(name) and not Path(body[name]).is_absolute():
                    body[name] = str(directory / body[name])
    return config


def fetch_kubeconfig(explicit: str | None, env: Mapping[str, str], home: Path) -> KubeConfig:
    """As kubectl finds it: --kubeconfig, else the files of KUBECONFIG merged (the first to name a
    cluster, user, context or current-context wins), else ~/.kube/config."""
    if explicit:
        paths = [Path(explicit).expanduser()]
    elif env.get("KUBECONFIG"):
        paths = [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
    else:
        paths = [home / ".kube" / "config"]
    found = [p for p in paths if p.is_file()]
    if not found:
        raise ClusterError(
            f"No kubeconfig at {', '.join(map(str, paths))}. Point --kubeconfig or KUBECONFIG at one, or use "
            "--dry-run to only see the manifests."
        )
    try:
        loaded = [_absolute_paths(yaml.safe_load(p.read_text()) or {}, p.parent.resolve()) for p in found]
    except (OSError, yaml.YAMLError) as error:
        raise ClusterError(f"Could not read the kubeconfig: {error.__class__.__name__}.") from None
    merged: dict[str, Any] = {
        "current-context": next((c["current-context"] for c in loaded if c.get("current-context")), None)
    }
    for kind in ("clusters", "users", "contexts"):
        entries: dict[str, Any] = {}
        for config in loaded:
            for entry in config.get(kind) or []:
                entries.setdefault(entry.get("name"), entry)
        merged[kind] = list(entries.values())
    try:
        return KubeConfig.from_dict(merged, fname=found[0])
    except (ConfigError, KeyError, TypeError) as error:
        raise ClusterError(f"The kubeconfig {found[0]} is not valid ({error}).") from None


def _explain(error: ApiError, what: str, namespace: str) -> ClusterError:
    """The API server's own message (names, verbs, never values) plus what to do about it."""
    code, message = error.status.code, error.status.message
    if code == 401:
        hint = "Your kubeconfig's credentials were not accepted: log in to the cluster again."
    elif code == 403:
        hint = (
            f"Ask for a Role in {namespace} allowing get, create and patch on secrets (and on "
            "claudecodeproviders.claudecode.dev for --apply); check with `kubectl auth can-i patch secrets "
            f"-n {namespace}`."
        )
    elif code == 404 and "namespaces" in (message or "") and f'"{namespace}"' in (message or ""):
        hint = f"Create it first (`kubectl create namespace {namespace}`) or choose another with --namespace."
    elif code == 404:
        hint = (
            "Is the claude-code-operator installed (its CRD claudecodeproviders.claudecode.dev)? `helm install "
            "claude-code-operator charts/claude-code-operator -n claude-code-operator --create-namespace`."
        )
    else:
        hint = "The API server refused it."
    return ClusterError(f"{what}: {message} (HTTP {code}). {hint}")


def fetch_context(kubeconfig: KubeConfig, context: str | None) -> SingleConfig:
    """The named context, else the current one (its namespace is the default, as in kubectl)."""
    try:
        config = kubeconfig.get(context_name=context)
    except ConfigError as error:
        raise ClusterError(f"{error}. Name one of the kubeconfig's contexts with --context.") from None
    assert config is not None  # get() without a default raises instead of returning None
    return config


class LoginApi:
    """The user's cluster, through their kubeconfig's context."""

    def __init__(self, config: SingleConfig) -> None:
        self.server = config.cluster.server
        self.client = Client(config, field_manager=FIELD_MANAGER, timeout=httpx2.Timeout(30.0))

    def close(self) -> None:
        self.client.close()

    @contextmanager
    def _calls(self, what: str, namespace: str) -> Iterator[None]:
        try:
            yield
        except ApiError as error:
            raise _explain(error, what, namespace) from None
        except httpx2.TransportError as error:
            raise ClusterError(
                f"{what}: the API server at {self.server} did not answer ({error.__class__.__name__}). "
                "Check the kubeconfig's context (`kubectl cluster-info`), the VPN or the cluster."
            ) from None
        except ConfigError as error:
            raise ClusterError(f"{what}: the kubeconfig does not work ({error}).") from None

    def fetch_secret(self, namespace: str, name: str) -> tuple[ExistingSecret | None, bool]:
        """(the Secret or None when missing, whether it could be read). Without `get` on Secrets the
        write may still be allowed: then nothing is known about what is there."""
        with self._calls(f"Reading Secret {namespace}/{name}", namespace):
            try:
                secret = self.client.get(Secret, name, namespace=namespace)
            except ApiError as error:
                if error.status.code in (403, 404):
                    return None, error.status.code == 404
                raise
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        meta = secret.metadata
        return ExistingSecret(
            data,
            dict(meta.annotations or {}) if meta else {},
            meta.resourceVersion if meta else None,
            dict(meta.labels or {}) if meta else {},
        ), True

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        with self._calls(f"Writing {manifest['kind']} {meta['namespace']}/{meta['name']}", meta["namespace"]):
            applied: Any = self.client.apply(codecs.from_dict(manifest), field_manager=FIELD_MANAGER, force=True)
        return dict(applied.to_dict())

    def remove_keys(self, namespace: str, name: str, keys: list[str]) -> None:
        """Drop data keys another field manager owns (an apply cannot remove those)."""
        patch = [{"op": "remove", "path": f"/data/{key.replace('~', '~0').replace('/', '~1')}"} for key in keys]
        with self._calls(f"Updating Secret {namespace}/{name}", namespace):
            self.client.patch(Secret, name, patch, namespace=namespace, patch_type=PatchType.JSON)
