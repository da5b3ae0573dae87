"""kopf wiring, kept thin: settings, clients, and which events reconcile which resource.

Handlers return None (kopf would write return values into status). The work is in `reconcile`
and `monitor`; errors the API returns are retried by kopf (TemporaryError with a delay).

No kopf daemon or deletion handler: kopf then puts no finalizer on the resources (and removes the one
older versions added), so deleting a resource is not held up by the operator; the garbage collector
removes its children through their owner references, and the DELETED event drops what is kept in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
import kopf
from lightkube import ApiError, KubeConfig
from pydantic import ValidationError

from .api.resource import Provider
from .api.spec import GROUP, PLURAL, VERSION
from .config import OperatorConfig
from .kube.api import FIELD_MANAGER, Kube, connect
from .metrics import register_phases
from .monitor import run_probes
from .reconcile import observe_pod, reconcile
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
    # Not put on resources any more (see above); named so that kopf removes the one older versions put.
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # Our own Events carry the actionable text; kopf's per-handler chatter stays in the logs.
    settings.posting.level = logging.WARNING
    config: OperatorConfig = memo.get("config") or OperatorConfig()
    kube_config = await asyncio.to_thread(KubeConfig.from_env)
    kube = Kube(connect(kube_config), FIELD_MANAGER)
    # Pod IPs are dialled directly, never through a proxy from the environment.
    http = httpx.AsyncClient(trust_env=False)
    state = State(config=config, kube=kube, http=http)
    memo["state"] = state
    register_phases(lambda: {key: s.phase for key, s in state.status.items()})


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
        await state.kube.check_access(state.config.namespaces[0] if state.config.namespaces else "*")
    except (ApiError, httpx.HTTPError) as error:
        # Permanent: fail this liveness request now instead of retrying it with kopf's backoff.
        raise kopf.PermanentError(f"the API refused or did not answer: {type(error).__name__}") from None


@kopf.index(*RESOURCE)
def login_users(name: str, namespace: str | None, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[Any, Any]:
    secret = (spec.get("credentials") or {}).get("secretName")
    if not secret:
        return {}
    return {(namespace, secret): (meta.get("creationTimestamp") or "", name, bool(meta.get("deletionTimestamp")))}


def _remember(state: State, body: kopf.Body) -> Provider | None:
    try:
        return state.remember(body)
    except ValidationError as error:
        # The CRD refuses bad specs; this only happens with a CRD older than the operator.
        raise kopf.PermanentError(f"spec does not match the operator's model: {error.error_count()} errors") from None


async def _reconcile(state: State, provider: Provider, users: LoginUsers, trigger: str) -> None:
    try:
        await reconcile(state, provider, users, trigger)
    except ApiError as error:
        raise kopf.TemporaryError(f"API error {error.status.code}: {error.status.reason}", delay=5) from error


@kopf.on.event(*RESOURCE)
async def resource_seen(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    """Keeps each resource as last seen (pod events and probes read it from memory, never from the API);
    runs before the handlers below for the same event."""
    state: State = memo["state"]
    if state.prober is None:
        # Started from a handler, not at start-up: kopf.event() works only in the context kopf gives
        # its handlers (its Event queue), and the prober posts Events.
        state.prober = asyncio.create_task(run_probes(state), name="auth probes")
    if type == "DELETED":
        state.forget((body["metadata"]["namespace"], body["metadata"]["name"]))
        return
    with contextlib.suppress(ValidationError):  # reported by the reconcile handler
        state.remember(body)


@kopf.on.resume(*RESOURCE, id="reconcile")
@kopf.on.create(*RESOURCE, id="reconcile")
@kopf.on.update(*RESOURCE, id="reconcile")
async def reconcile_resource(body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    state: State = memo["state"]
    provider = _remember(state, body)
    if provider is not None:  # None: being deleted; the garbage collector removes the children
        await _reconcile(state, provider, kwargs["login_users"], "resource")


async def _reconcile_named(state: State, namespace: str, names_: list[str], users: LoginUsers, trigger: str) -> None:
    """Reconcile resources named by a Secret or pod event (as last seen: no read). kopf does not retry
    event handlers, so transient API errors are retried here (bounded), or the change would wait for
    the next event."""
    for name in names_:
        for delay in (*EVENT_RETRY_DELAYS, None):
            provider = state.providers.get((namespace, name))
            if provider is None:
                break  # gone, or not seen yet: its own events reconcile it
            try:
                await _reconcile(state, provider, users, trigger)
                break
            except (kopf.TemporaryError, ApiError, httpx.HTTPError) as error:
                if delay is None:
                    log.error("Gave up reconciling %s/%s after %s: %s", namespace, name, trigger, type(error).__name__)
                    break
                await asyncio.sleep(delay)


# The operator's own Secrets (the generated keys, labelled managed-by) are never anyone's login.
@kopf.on.event("v1", "secrets", labels={"app.kubernetes.io/managed-by": kopf.ABSENT})
async def login_secret_changed(type: str | None, name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """A created, fixed, rotated or deleted login Secret reconciles the resources naming it."""
    if type is None or namespace is None:  # None: the initial listing, which resume handlers cover
        return
    users: LoginUsers = kwargs["login_users"]
    named = login_users_of(users, namespace, name)
    if named:
        await _reconcile_named(memo["state"], namespace, named, users, "secret")


@kopf.on.event("v1", "pods", labels={"app.kubernetes.io/managed-by": names.MANAGED_BY})
async def provider_pod_changed(
    type: str | None, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: Any, **kwargs: Any
) -> None:
    """A pod starting, getting ready or going is read from the event itself; a pod that stopped or went
    reconciles its resource (to replace it), and a deleted pod also lets the next resource waiting for
    the same login start its own."""
    if type is None or namespace is None:
        return
    state: State = memo["state"]
    users: LoginUsers = kwargs["login_users"]
    owner = labels.get(names.PROVIDER_LABEL)
    if type != "DELETED" and owner and await observe_pod(state, namespace, owner, body):
        return
    targets = [owner] if owner else []
    if type == "DELETED":
        for volume in body.get("spec", {}).get("volumes") or []:
            if volume.get("name") == "login" and volume.get("secret"):
                targets += login_users_of(users, namespace, volume["secret"].get("secretName", ""))
    await _reconcile_named(state, namespace, sorted(set(targets)), users, "pod")
