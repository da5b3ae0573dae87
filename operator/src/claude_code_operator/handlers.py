"""kopf wiring, kept thin: settings, clients, and which events reconcile which resource.

Handlers return None (kopf would write return values into status). The work is in `reconcile`
and `monitor`; errors the API returns are retried by kopf (TemporaryError with a delay).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import kopf
from lightkube import ApiError, AsyncClient, KubeConfig
from pydantic import ValidationError

from .api.spec import GROUP, PLURAL, VERSION
from .config import OperatorConfig
from .kube.api import FIELD_MANAGER, Kube
from .metrics import register_phases
from .monitor import monitor_auth
from .reconcile import reconcile
from .render import names
from .state import LoginUsers, State, login_users_of

log = logging.getLogger(__name__)
RESOURCE = (GROUP, VERSION, PLURAL)
PREFIX = "claudecode.dev"
EVENT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # A watch that silently stops delivering events is the classic kopf stall: bound every stream.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.watching.inactivity_timeout = 70
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # Our own Events carry the actionable text; kopf's per-handler chatter stays in the logs.
    settings.posting.level = logging.WARNING
    config: OperatorConfig = memo.get("config") or OperatorConfig()
    kube_config = await asyncio.to_thread(KubeConfig.from_env)
    kube = Kube(AsyncClient(config=kube_config, field_manager=FIELD_MANAGER), FIELD_MANAGER)
    # Pod IPs are dialled directly, never through a proxy from the environment.
    http = httpx.AsyncClient(trust_env=False)
    state = State(config=config, kube=kube, http=http)
    memo["state"] = state
    register_phases(lambda: [s.phase for s in state.status.values()])


@kopf.on.cleanup()
async def close_clients(memo: kopf.Memo, **_: Any) -> None:
    state: State | None = memo.get("state")
    if state is not None:
        await state.close()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster ServiceAccount, else KUBECONFIG (kopf's own readers; no client library needed)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.probe(id="api")
async def api_reachable(memo: kopf.Memo, **_: Any) -> None:
    """The liveness endpoint fails when the API cannot be reached or refuses this account."""
    state: State = memo["state"]
    try:
        await state.kube.check_access()
    except (ApiError, httpx.HTTPError) as error:
        # Permanent: fail this liveness request now instead of retrying it with kopf's backoff.
        raise kopf.PermanentError(f"the API refused or did not answer: {type(error).__name__}") from None


@kopf.index(*RESOURCE)
def login_users(name: str, namespace: str | None, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[Any, Any]:
    secret = (spec.get("credentials") or {}).get("secretName")
    if not secret:
        return {}
    return {(namespace, secret): (meta.get("creationTimestamp") or "", name, bool(meta.get("deletionTimestamp")))}


async def _reconcile(memo: Any, body: Any, users: LoginUsers, trigger: str) -> None:
    try:
        await reconcile(memo["state"], body, users, trigger)
    except ValidationError as error:
        # The CRD refuses bad specs; this only happens with a CRD older than the operator.
        raise kopf.PermanentError(f"spec does not match the operator's model: {error.error_count()} errors") from None
    except ApiError as error:
        raise kopf.TemporaryError(f"API error {error.status.code}: {error.status.reason}", delay=5) from error


@kopf.on.resume(*RESOURCE, id="reconcile")
@kopf.on.create(*RESOURCE, id="reconcile")
@kopf.on.update(*RESOURCE, id="reconcile")
async def reconcile_resource(body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    await _reconcile(memo, body, kwargs["login_users"], "resource")


async def _reconcile_named(memo: Any, namespace: str, names_: list[str], users: LoginUsers, trigger: str) -> None:
    """Reconcile resources named by a Secret or pod event. kopf does not retry event handlers, so
    transient API errors are retried here (bounded), or the change would wait for the next event."""
    state: State = memo["state"]
    for name in names_:
        for delay in (*EVENT_RETRY_DELAYS, None):
            try:
                body = await state.kube.fetch_provider(namespace, name)
                if body is not None:
                    await _reconcile(memo, body, users, trigger)
                break
            except (kopf.TemporaryError, ApiError, httpx.HTTPError) as error:
                if delay is None:
                    log.error("Gave up reconciling %s/%s after %s: %s", namespace, name, trigger, type(error).__name__)
                    break
                await asyncio.sleep(delay)


@kopf.on.event("v1", "secrets")
async def login_secret_changed(type: str | None, name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """A created, fixed, rotated or deleted login Secret reconciles the resources naming it."""
    if type is None or namespace is None:  # None: the initial listing, which resume handlers cover
        return
    users: LoginUsers = kwargs["login_users"]
    await _reconcile_named(memo, namespace, login_users_of(users, namespace, name), users, "secret")


@kopf.on.event("v1", "pods", labels={"app.kubernetes.io/managed-by": names.MANAGED_BY})
async def provider_pod_changed(
    type: str | None, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: Any, **kwargs: Any
) -> None:
    """Readiness, failure or deletion of a pod reconciles its resource; a deleted pod also lets the
    next resource waiting for the same login start its own."""
    if type is None or namespace is None:
        return
    users: LoginUsers = kwargs["login_users"]
    targets = [labels[names.PROVIDER_LABEL]] if names.PROVIDER_LABEL in labels else []
    if type == "DELETED":
        for volume in body.get("spec", {}).get("volumes") or []:
            if volume.get("name") == "login" and volume.get("secret"):
                targets += login_users_of(users, namespace, volume["secret"].get("secretName", ""))
    await _reconcile_named(memo, namespace, sorted(set(targets)), users, "pod")


@kopf.daemon(*RESOURCE, id="auth-probe", cancellation_timeout=5)
async def probe_auth(body: kopf.Body, memo: Any, stopped: kopf.DaemonStopped, **_: Any) -> None:
    await monitor_auth(memo["state"], body, stopped)
