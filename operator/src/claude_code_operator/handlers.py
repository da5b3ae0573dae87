"""kopf wiring, kept thin: settings, clients, and which events reconcile which resource.

Handlers return None (kopf would write return values into status). The work is in `reconcile`
and `monitor`. Resources, pods and Secrets all reach event handlers, which kopf does not retry: a reconcile that the
API refused or did not answer is retried here (`_retry`, `_reconcile_named`).

No kopf daemon or deletion handler: kopf then puts no finalizer on the resources (and removes the one
older versions added), so deleting a resource is not held up by the operator; the garbage collector
removes its children through their owner references, and the DELETED event drops what is kept in memory.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import aiohttp
import kopf
from lightkube import ApiError, KubeConfig
from pydantic import ValidationError

from .api.spec import GROUP, PLURAL, VERSION
from .config import ApiServerEndpoint, OperatorConfig
from .kube.api import FIELD_MANAGER, Kube, TransportError, connect
from .metrics import register_phases
from .monitor import run_probes
from .reconcile import observe_pod, reconcile
from .render import names
from .render.network import to_api_server_endpoints
from .state import Key, LoginUsers, State, login_users_of

log = logging.getLogger(__name__)
RESOURCE = (GROUP, VERSION, PLURAL)
PREFIX = "claudecode.dev"
EVENT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
RESOURCE_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # then every 30 s


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf deep-copies the body of every event it gets (pods and Secrets too) into an "essence" to diff
    for create/update handlers. This operator has none (see `resource_changed`): nothing to copy or keep."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


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
    settings.persistence.diffbase_storage = NoDiffBase()
    # Our own Events carry the actionable text; kopf's per-handler chatter stays in the logs.
    settings.posting.level = logging.WARNING
    config: OperatorConfig = memo.get("config") or OperatorConfig()
    kube_config = await asyncio.to_thread(KubeConfig.from_env)
    kube = Kube(connect(kube_config), FIELD_MANAGER)
    if not config.api_server:
        found = await kube.fetch_api_server_slice()
        config = config.model_copy(update={"api_server": to_api_server_endpoints([found] if found else [])})
    if config.api_server:
        log.info("Write-back pods reach the API server at %s", ", ".join(_endpoint(e) for e in config.api_server))
    else:
        log.warning(
            "The default/kubernetes EndpointSlice is missing or hidden: write-back pods get no egress rule for "
            "the API server; set the chart value apiServer.endpoints (--api-server-endpoint) where NetworkPolicy "
            "is enforced"
        )
    # Pod IPs are dialled directly, never through a proxy from the environment.
    http = aiohttp.ClientSession(trust_env=False)
    state = State(config=config, kube=kube, http=http)
    memo["state"] = state
    register_phases(lambda: {key: s.phase for key, s in state.status.items()})


def _endpoint(endpoint: ApiServerEndpoint) -> str:
    return (
        f"[{endpoint.address}]:{endpoint.port}"
        if endpoint.address.version == 6
        else f"{endpoint.address}:{endpoint.port}"
    )


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
    except (ApiError, TransportError) as error:
        # Permanent: fail this liveness request now instead of retrying it with kopf's backoff.
        raise kopf.PermanentError(f"the API refused or did not answer: {type(error).__name__}") from None


@kopf.index(*RESOURCE)
def login_users(name: str, namespace: str | None, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[Any, Any]:
    secret = (spec.get("credentials") or {}).get("secretName")
    if not secret:
        return {}
    return {(namespace, secret): (meta.get("creationTimestamp") or "", name, bool(meta.get("deletionTimestamp")))}


@kopf.on.event(*RESOURCE)
async def resource_changed(type: str | None, body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    """Keeps each resource as last seen (pod events and probes read it from memory, never from the API)
    and reconciles a spec generation this process has not converged yet: a new or changed resource, or
    every resource once after a start (kopf's initial listing). Its status writes cost nothing more.

    An event handler rather than kopf's create/update/resume handlers: those keep the last handled spec
    in an annotation (a write per resource and change) and deep-copy every body of every event to diff
    it, a third of the operator's CPU in a burst; the generation says the same for nothing."""
    state: State = memo["state"]
    if state.prober is None:
        # Started from a handler, not at start-up: kopf.event() works only in the context kopf gives
        # its handlers (its Event queue), and the prober posts Events.
        state.prober = asyncio.create_task(run_probes(state), name="auth probes")
    key: Key = (body["metadata"]["namespace"], body["metadata"]["name"])
    if type == "DELETED":
        state.forget(key)
        return
    try:
        provider = state.remember(body)
    except ValidationError as error:
        # The CRD refuses bad specs; this only happens with a CRD older or newer than the operator.
        message = f"spec does not match the operator's model ({error.error_count()} errors): is the CRD this version's?"
        log.error("Cannot reconcile %s/%s: %s", *key, message)
        kopf.warn(body, reason="SpecNotUnderstood", message=message)
        return
    if provider is None or state.converged.get(key) == provider.generation:
        return  # being deleted (the garbage collector removes the children), or nothing new
    try:
        await reconcile(state, provider, kwargs["login_users"], "resource")
    except (ApiError, TransportError) as error:
        log.warning("Reconciling %s/%s failed (%s); retrying", *key, _describe(error))
        if key not in state.retrying:
            state.retrying[key] = asyncio.create_task(_retry(state, key, kwargs["login_users"]))
        return
    state.converged[key] = provider.generation


def _describe(error: Exception) -> str:
    return f"API error {error.status.code}" if isinstance(error, ApiError) else type(error).__name__


async def _retry(state: State, key: Key, users: LoginUsers) -> None:
    """Until the resource's latest generation is converged (or it goes): kopf retries no event handler,
    and without a new event nothing else would. Runs beside kopf's worker for the resource, so the
    events that arrive meanwhile (a fixed spec) are seen, and the latest one is what is retried."""
    try:
        for delay in itertools.chain(RESOURCE_RETRY_DELAYS, itertools.repeat(RESOURCE_RETRY_DELAYS[-1])):
            await asyncio.sleep(delay)
            provider = state.providers.get(key)
            if provider is None or state.converged.get(key) == provider.generation:
                return
            try:
                await reconcile(state, provider, users, "retry")
            except (ApiError, TransportError) as error:
                log.warning("Reconciling %s/%s failed again (%s)", *key, _describe(error))
                continue
            state.converged[key] = provider.generation
            return
    finally:
        state.retrying.pop(key, None)


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
                await reconcile(state, provider, users, trigger)
                break
            except (ApiError, TransportError) as error:
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
