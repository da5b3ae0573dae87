"""kopf wiring, kept thin: settings, clients, and which events reconcile which resource.

Handlers return None (kopf would write return values into status). The work is in `reconcile`
and `monitor`. Resources, pods and Secrets all reach event handlers, which kopf does not retry: a reconcile that the
API refused or did not answer is retried here (`reconcile_or_retry`), whatever triggered it.

No kopf daemon or deletion handler: kopf then puts no finalizer on the resources (and removes the one
older versions added), so deleting a resource is not held up by the operator; the garbage collector
removes its children through their owner references, and the DELETED event drops what is kept in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any

import aiohttp
import kopf
from lightkube import ApiError, KubeConfig
from pydantic import ValidationError

from . import contract
from .api.spec import GROUP, PLURAL, VERSION
from .config import ApiServerEndpoint, OperatorConfig
from .kube.api import FIELD_MANAGER, Kube, TransportError, connect
from .kube.in_cluster import derive_in_cluster_server
from .metrics import register_phases
from .monitor import run_probes
from .reconcile import observe_pod
from .render import names
from .render.network import to_api_server_endpoints
from .retries import reconcile_or_retry, run_resync
from .state import Key, LoginUsers, State, login_users_of

log = logging.getLogger(__name__)
RESOURCE = (GROUP, VERSION, PLURAL)
PREFIX = "claudecode.dev"
#: Objects per page of kopf's initial lists (and relists after a watch expired).
LIST_PAGE = 100
#: The operator's children other than Secrets, each watched with the managed-by selector only.
_OWNED_KINDS = (("v1", "pods"), ("v1", "services"), ("v1", "configmaps"), ("networking.k8s.io", "networkpolicies"))


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
    # Server-side selectors: only the operator's own children and opted-in Secrets are ever listed or
    # watched, never the rest of the cluster's Secrets and pods (Helm's release Secrets reach 1 MiB each);
    # kopf's `labels=` filters on the handlers below apply only after an object arrived. Lists in pages.
    for resource in _OWNED_KINDS:
        settings.watching.label_selectors[resource] = f"{names.MANAGED_BY_LABEL}={names.MANAGED_BY}"
    settings.watching.label_selectors["v1", "secrets"] = contract.PROVIDER_LABEL
    settings.watching.chunk_size = LIST_PAGE
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
    register_phases(lambda: {key: t.status.phase for key, t in state.tracked.items()})


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
    """In-cluster ServiceAccount, else KUBECONFIG (kopf's own readers; no client library needed). In a
    pod, the API server is where the kubelet's environment says (`derive_in_cluster_server`)."""
    account = kopf.login_with_service_account(**kwargs)
    if account is None:
        return kopf.login_with_kubeconfig(**kwargs)
    server = derive_in_cluster_server(os.environ)
    return dataclasses.replace(account, server=server) if server else account


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
def login_users(name: str, namespace: str | None, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
    """The Secrets each resource names (login, master key): whom a Secret's event concerns."""
    named = {(spec.get("credentials") or {}).get("secretName"), (spec.get("masterKeySecret") or {}).get("name")}
    return {(namespace, secret): name for secret in sorted(filter(None, named))}


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
        # kopf's index is a live view: the resync reads it as it is then.
        state.resync = asyncio.create_task(run_resync(state), name="resync")
    key: Key = (body["metadata"]["namespace"], body["metadata"]["name"])
    if type == "DELETED":
        state.forget(key)
        return
    try:
        tracked = state.remember(body)
    except ValidationError as error:
        # The CRD refuses bad specs; this only happens with a CRD older or newer than the operator.
        message = f"spec does not match the operator's model ({error.error_count()} errors): is the CRD this version's?"
        log.error("Cannot reconcile %s/%s: %s", *key, message)
        kopf.warn(body, reason="SpecNotUnderstood", message=message)
        return
    if tracked is None or tracked.converged == tracked.provider.generation:
        return  # being deleted (the garbage collector removes the children), or nothing new
    await reconcile_or_retry(state, tracked, "resource")


async def _reconcile_named(state: State, namespace: str, names_: list[str], trigger: str) -> None:
    """Reconcile resources named by a Secret or pod event (as last seen: no read)."""
    for name in names_:
        tracked = state.get((namespace, name))
        if tracked is not None:  # else gone, or not seen yet: its own events reconcile it
            await reconcile_or_retry(state, tracked, trigger)


def _edited_by_others(body: kopf.Body) -> bool:
    """A MODIFIED event that this operator's own write caused says nothing new: its newest managed
    fields are this operator's."""
    fields = body["metadata"].get("managedFields") or []
    newest = max(fields, key=lambda f: f.get("time") or "", default=None)
    return newest is None or newest.get("manager") != FIELD_MANAGER


async def _child_changed(
    type: str | None, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: Any
) -> None:
    """A child deleted, or edited by someone else, is written again at once (the remembered apply is
    dropped); a deleted keys Secret is made anew with new keys (a rotation), and the pod replaced."""
    if namespace is None or type not in ("DELETED", "MODIFIED"):
        return
    if type == "MODIFIED" and not _edited_by_others(body):
        return
    state: State = memo["state"]
    tracked = state.get((namespace, labels.get(names.PROVIDER_LABEL, "")))
    if tracked is None:
        return
    state.kube.forget_child(body["kind"], namespace, body["metadata"]["name"])
    if body["kind"] == "Secret":
        tracked.keys_complete = False
    await reconcile_or_retry(state, tracked, "child")


_OWNED = {names.MANAGED_BY_LABEL: names.MANAGED_BY}


@kopf.on.event("v1", "services", labels=_OWNED)
@kopf.on.event("v1", "configmaps", labels=_OWNED)
@kopf.on.event("networking.k8s.io", "v1", "networkpolicies", labels=_OWNED)
async def child_changed(
    type: str | None, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: Any, **_: Any
) -> None:
    await _child_changed(type, body, namespace, labels, memo)


@kopf.on.event("v1", "secrets")
async def secret_changed(
    type: str | None, body: kopf.Body, name: str, namespace: str | None, labels: kopf.Labels, memo: Any, **kwargs: Any
) -> None:
    """Only Secrets labelled `claudecode.dev/provider` arrive (the watch's selector): the operator's
    generated keys (a child), or a Secret opted in for a resource. An opted-in Secret created, fixed,
    rotated, relabelled or deleted (a label removed is a deletion to this watch) reconciles the resources
    naming it and the one its label names, whatever else labels it (Helm's managed-by, say)."""
    if labels.get(names.MANAGED_BY_LABEL) == names.MANAGED_BY:
        await _child_changed(type, body, namespace, labels, memo)
        return
    if type is None or namespace is None:  # None: the initial listing, after which every resource reconciles
        return
    log.debug("Login Secret %s/%s %s", namespace, name, type.lower())
    named = {*login_users_of(kwargs["login_users"], namespace, name), labels.get(contract.PROVIDER_LABEL, "")}
    await _reconcile_named(memo["state"], namespace, sorted(named - {""}), "secret")


@kopf.on.event("v1", "pods", labels=_OWNED)
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
    await _reconcile_named(state, namespace, sorted(set(targets)), "pod")
