"""The only code that talks to the API server: reads (`fetch_*`) and writes (`apply_*`, `create_*`,
`delete_*`, `patch_*`). Children are written by server-side apply with one field manager, except what
is only ever created: a pod (never changed: replaced) and the generated keys on their first creation.
Children carry owner references from the renderers, so deleting a ClaudeCodeProvider lets the garbage
collector remove them."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient, KubeConfig, codecs
from lightkube.config.client_adapter import verify_cluster
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod, Secret
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from ..api.spec import GROUP, KIND, PLURAL, VERSION
from ..login_facts import LoginSecret
from .transport import AiohttpTransport

FIELD_MANAGER = "claude-code-operator"
#: Connections to the API server at most (aiohttp keeps them alive between requests): a burst of
#: reconciles queues for these rather than paying a TLS handshake each, on both sides.
API_CONNECTIONS = 32
#: Each request's own time-outs; waiting for a free connection is bounded by how many reconciles run.
API_TIMEOUT = httpx2.Timeout(10.0, pool=None)
#: What lightkube raises when a request gets no answer (its HTTP client is httpx2, not httpx).
TransportError = httpx2.HTTPError
ClaudeCodeProvider = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)


def connect(kube_config: KubeConfig, field_manager: str = FIELD_MANAGER) -> AsyncClient:
    """lightkube's client (its TLS set-up and auth) over aiohttp, with a pool sized for bursts."""
    single = kube_config.get()
    if single is None or single.user is None:
        raise ValueError("the kubeconfig names no current context or no user")
    tls = verify_cluster(single.cluster, single.user, single.abs_file)
    transport = AiohttpTransport(tls, API_CONNECTIONS)
    return AsyncClient(config=kube_config, field_manager=field_manager, transport=transport, timeout=API_TIMEOUT)


#: Answers that no retry soon changes: a bad or invalid object (a bad spec.placement value), or a refusal
#: (a ResourceQuota, an admission webhook, RBAC).
REFUSED_CODES = frozenset({400, 403, 422})


class Refused(Exception):
    """The API server refused to write a child: what, and the API's own words."""

    def __init__(self, kind: str, name: str, code: int, message: str) -> None:
        super().__init__(f"{kind} {name}: HTTP {code}")
        self.kind, self.name, self.code, self.message = kind, name, code, message


def _refused(manifest: dict[str, Any], error: ApiError) -> Refused | None:
    if error.status.code not in REFUSED_CODES:
        return None
    return Refused(manifest["kind"], manifest["metadata"]["name"], error.status.code, error.status.message or "")


def _missing(error: ApiError) -> bool:
    return error.status.code == 404


class Kube:
    """An async client plus what the operator remembers about its own writes (to skip no-op applies)."""

    def __init__(self, client: AsyncClient, field_manager: str = FIELD_MANAGER) -> None:
        self.client = client
        self.field_manager = field_manager
        self._applied: dict[tuple[str, str, str], str] = {}

    async def close(self) -> None:
        await self.client.close()

    async def _get(self, res: Any, namespace: str, name: str) -> Any:
        """The object, or None when it does not exist."""
        try:
            return await self.client.get(res, name, namespace=namespace)
        except ApiError as error:
            if _missing(error):
                return None
            raise

    async def fetch_secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        secret = await self._get(Secret, namespace, name)
        if secret is None:
            return None
        return {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}

    async def fetch_login_secret(self, namespace: str, name: str) -> LoginSecret | None:
        """The login Secret's data, annotations (who wrote it, when its login expires) and labels (whom it
        is for)."""
        secret = await self._get(Secret, namespace, name)
        if secret is None:
            return None
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        meta = secret.metadata
        return LoginSecret(data, dict((meta and meta.annotations) or {}), dict((meta and meta.labels) or {}))

    async def fetch_secret_labels(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's labels only (its data is dropped at once), or None when it does not exist."""
        secret = await self._get(Secret, namespace, name)
        if secret is None:
            return None
        return dict((secret.metadata and secret.metadata.labels) or {})

    async def fetch_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        pod = await self._get(Pod, namespace, name)
        return None if pod is None else dict(pod.to_dict())

    async def fetch_api_server_slice(self) -> dict[str, Any] | None:
        """The `default/kubernetes` EndpointSlice (the API server's real addresses), or None when it is
        missing or hidden from this account."""
        try:
            found = await self._get(EndpointSlice, "default", "kubernetes")
        except ApiError as error:
            if error.status.code == 403:
                return None
            raise
        return None if found is None else dict(found.to_dict())

    async def fetch_pods(self, namespace: str, label: str, value: str) -> list[dict[str, Any]]:
        """The namespace's pods labelled `label=value` (a server-side selector)."""
        selector: dict[str, Any] = {label: value}
        return [dict(pod.to_dict()) async for pod in self.client.list(Pod, namespace=namespace, labels=selector)]

    async def apply_manifest(self, manifest: dict[str, Any], *, remember: bool = True) -> dict[str, Any] | None:
        """Server-side apply (force: this manager owns the fields it renders): the object as the server
        has it now. An apply identical to the last one this process made is skipped (None): steady
        state makes no requests."""
        meta = manifest["metadata"]
        key = (manifest["kind"], meta["namespace"], meta["name"])
        digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        if remember and self._applied.get(key) == digest:
            return None
        try:
            applied: Any = await self.client.apply(
                codecs.from_dict(manifest), field_manager=self.field_manager, force=True
            )
        except ApiError as error:
            refused = _refused(manifest, error)
            if refused is not None:
                raise refused from error
            raise
        if remember:
            self._applied[key] = digest
        return dict(applied.to_dict())

    async def create_manifest(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Create an object that was never there (a new resource's pod or keys): one request where a read
        and an apply would take two. None when one of that name exists: the caller reads it and decides."""
        try:
            created: Any = await self.client.create(codecs.from_dict(manifest), field_manager=self.field_manager)
        except ApiError as error:
            if error.status.code == 409:
                return None
            refused = _refused(manifest, error)
            if refused is not None:
                raise refused from error
            raise
        return dict(created.to_dict())

    def forget_child(self, kind: str, namespace: str, name: str) -> None:
        """Drop what is remembered of one child (deleted or edited by someone else): the next apply is made."""
        self._applied.pop((kind, namespace, name), None)

    def forget(self, namespace: str, owner: str) -> None:
        """Drop what is remembered of a deleted resource's children."""
        for key in [k for k in self._applied if k[1] == namespace and k[2].startswith(owner)]:
            del self._applied[key]

    async def delete_pod(self, namespace: str, name: str) -> None:
        """A pod already gone is fine."""
        try:
            await self.client.delete(Pod, name, namespace=namespace)
        except ApiError as error:
            if not _missing(error):
                raise

    async def patch_resource(self, namespace: str, name: str, patch: list[dict[str, Any]]) -> dict[str, Any]:
        """A JSON patch of the resource itself (its `test` operations make it conditional): the body after."""
        patched: Any = await self.client.patch(
            ClaudeCodeProvider, name, patch, namespace=namespace, patch_type=PatchType.JSON
        )
        return dict(patched.to_dict())

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self.client.patch(
            ClaudeCodeProvider.Status,
            name,
            {"status": status},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    async def check_access(self, namespace: str = "*") -> None:
        """Raises unless the API answers and lets this account list ClaudeCodeProviders in `namespace`
        ("*": every namespace; a namespaced operator's Roles allow only its own)."""
        async for _ in self.client.list(ClaudeCodeProvider, namespace=namespace, chunk_size=1):
            break
